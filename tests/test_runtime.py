"""CPU runtime helpers: the allocator setting and side-by-side timing."""

import pytest
import torch

from panns_lite.runtime import configure_cpu, interleaved_medians, resolved_device


def test_interleaved_medians_warms_up_alternates_and_takes_medians():
    calls: list[str] = []
    medians = interleaved_medians(
        {"a": lambda: calls.append("a"), ("b", 1): lambda: calls.append("b")}, repeats=3
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then a/b, b/a, a/b
    assert set(medians) == {"a", ("b", 1)} and all(v >= 0 for v in medians.values())


def test_configure_cpu_sets_threads():
    import torch

    before = torch.get_num_threads()
    try:
        configure_cpu(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_resolved_device_makes_auto_concrete_and_checks_the_rest():
    assert resolved_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolved_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="not available here"):
        resolved_device("cuda:7" if torch.cuda.device_count() < 8 else "xpu")
