"""benchmarks/bench_browser.py's pure parts: the interleaved timing, the summaries and ratios, the harness
page and the report. The benchmark itself needs Chromium and ``npm ci`` and is run by hand."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_browser as bench  # noqa: E402  (a script folder, not a package)


def test_interleaved_times_warms_up_then_alternates_the_order():
    calls = []

    def candidate(name, seconds):
        def run():
            calls.append(name)
            return seconds + len(calls)

        return run

    times, first = bench.interleaved_times({"a": candidate("a", 0), "b": candidate("b", 100)}, 3, 2)
    assert calls == ["a", "b", "a", "b"] + ["a", "b", "b", "a", "a", "b"]
    assert first == {"a": 1, "b": 102}
    assert times == {"a": [5, 8, 9], "b": [106, 107, 110]}
    with pytest.raises(ValueError):
        bench.interleaved_times({"a": candidate("a", 0)}, 0, 1)


def test_summary_and_ratios():
    assert bench.summary([3.0, 1.0, 2.0, 4.0, 5.0]) == {"median": 3.0, "q1": 2.0, "q3": 4.0}
    assert bench.summary([2.0]) == {"median": 2.0, "q1": 2.0, "q3": 2.0}
    medians = {(bench.BROWSER, "float32"): 3.0, (bench.PYTHON, "float32"): 1.5, (bench.TORCH, "float32"): 2.0}
    rows = bench.ratio_rows(medians)  # no int8: only the float32 ratios
    assert [r["ratio"] for r in rows] == [2.0, 1.5, pytest.approx(4 / 3)]
    assert rows[0]["a"] == f"{bench.BROWSER} float32" and rows[0]["b"] == f"{bench.PYTHON} float32"


def test_harness_loads_the_scripts_in_order_before_the_timing_code():
    html = bench.harness_html(["ort.wasm.min.js", "ort-glue.js", "clip.js"])
    positions = [
        html.index(f'<script src="{name}">') for name in ("ort.wasm.min.js", "ort-glue.js", "clip.js")
    ]
    assert positions == sorted(positions) and positions[-1] < html.index("window.bench")
    assert "SCRIPTS" not in html and "CLIP_NAME" not in html and f'embedded("{bench.CLIP_NAME}")' in html


def test_report_tables_have_one_cell_per_column():
    rows = [
        {
            "runtime": bench.BROWSER,
            "precision": "float32",
            "median": 0.2,
            "q1": 0.19,
            "q3": 0.21,
            "first": 1.0,
        },
        {
            "runtime": bench.PYTHON,
            "precision": "float32",
            "median": 0.1,
            "q1": 0.09,
            "q3": 0.11,
            "first": 0.1,
        },
        {
            "runtime": bench.TORCH,
            "precision": "float32",
            "median": 0.05,
            "q1": 0.04,
            "q3": 0.06,
            "first": 0.2,
        },
    ]
    results = {
        "environment": {
            "torch": "2.x",
            "threads": 1,
            "cpu": "CPU",
            "cpu_count": 2,
            "load_average_at_start": 0.1,
            "date": "2026-01-01 00:00",
            "load_average": {"start": [0.1, 0.2, 0.3], "end": [0.4, 0.5, 0.6]},
            "versions": {"onnxruntime": "1", "onnxruntime-web": "1", "chromium": "Chromium 1"},
        },
        "clip": {"source": "a + b", "seconds": 10, "samples": 320000},
        "repeats": 3,
        "warmup_rounds": 1,
        "int8": None,
        "int8_skipped": "no calibration file",
        "MB": {"float32": 11.4},
        "browser_setup": {
            "inflateMilliseconds": 200.0,
            "sessionMilliseconds": {"float32": 1000.0},
            "errors": {},
            "numThreads": 1,
        },
        "page_problems": [],
        "seconds_per_clip": rows,
        "ratios": bench.ratio_rows({(r["runtime"], r["precision"]): r["median"] for r in rows}),
        "max_abs_difference": {"browser vs ONNX Runtime (Python), float32": 1e-7},
        "top_tags": [["Bird", 0.9]],
    }
    markdown = bench.to_markdown(results)
    tables = [block.splitlines() for block in markdown.split("\n\n") if block.startswith("|")]
    assert [len(table) for table in tables] == [2 + 3, 2 + 3]
    for table in tables:
        assert len({line.count("|") for line in table}) == 1, table
    assert "| 2.00 |" in markdown and "no calibration file" in markdown
