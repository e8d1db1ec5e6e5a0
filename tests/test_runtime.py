"""CPU runtime helpers: the allocator setting and side-by-side timing."""

from panns_lite.runtime import configure_cpu, interleaved_medians


def test_interleaved_medians_warms_up_alternates_and_takes_medians():
    calls: list[str] = []
    medians = interleaved_medians({"a": lambda: calls.append("a"), ("b", 1): lambda: calls.append("b")}, repeats=3)
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
