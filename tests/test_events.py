"""Sound events and their files (panns_lite.events): the events CSV and AudioSet's strong-label TSV."""

import pytest

from panns_lite.audioset import ClassLabels
from panns_lite.events import (
    STRONG_COLUMNS,
    Event,
    read_events_csv,
    read_strong_labels,
    write_events_csv,
    write_strong_labels,
)
from panns_lite.miniset import write_table

LABELS = ClassLabels(("/m/a", "/m/b", "/m/c"), ("Alpha", "Beta, with comma", "Gamma"))


def ev(onset: float, offset: float, mid: str) -> Event:
    return Event(onset, offset, LABELS.name_of(mid), mid)


def test_events_csv_round_trip(tmp_path):
    events = {
        "dir/one.wav": [Event(0.1234, 1.5, "Beta, with comma", "/m/b", 0.87654), ev(2.0, 3.0, "/m/a")],
        "two.flac": [Event(0.0, 0.5, "Alpha", "/m/a", 0.5)],
    }
    path = write_events_csv(tmp_path / "events.csv", events)
    lines = path.read_text().splitlines()
    assert lines[0] == "filename,onset,offset,label,mid,peak_probability"
    assert lines[1] == 'dir/one.wav,0.123,1.500,"Beta, with comma",/m/b,0.8765'
    assert read_events_csv(path) == {
        "dir/one.wav": [Event(0.123, 1.5, "Beta, with comma", "/m/b", 0.8765), ev(2.0, 3.0, "/m/a")],
        "two.flac": [Event(0.0, 0.5, "Alpha", "/m/a", 0.5)],
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,onset,offset,label,mid,peak_probability\na.wav,soon,1.0,Alpha,/m/a,\n")
    with pytest.raises(ValueError, match="bad.csv:2: 'soon' is not a time"):
        read_events_csv(bad)


def test_strong_labels_written_and_read_back(tmp_path):
    # The writer's rows: f"{ytid}_0", onset/offset with 3 decimals, one mid per row, in the given order.
    path = write_strong_labels(
        tmp_path / "strong_labels.tsv",
        {
            "Yms_b00000001": [Event(0.4962, 7.831, "Alpha", "/m/a"), Event(0.1, 2.0, "Gamma", "/m/c")],
            "Ymsb00000002": [Event(3.0, 4.0, "Beta, with comma", "/m/b")],
        },
    )
    assert path.read_text().splitlines() == [
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel",
        "ms_b00000001_0\t0.496\t7.831\t/m/a",
        "ms_b00000001_0\t0.100\t2.000\t/m/c",
        "msb00000002_0\t3.000\t4.000\t/m/b",
    ]
    assert read_strong_labels(path, LABELS) == {
        "Yms_b00000001": [Event(0.1, 2.0, "Gamma", "/m/c"), Event(0.496, 7.831, "Alpha", "/m/a")],
        "Ymsb00000002": [Event(3.0, 4.0, "Beta, with comma", "/m/b")],
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["x_0", "1.0", "2.0", "/m/zzz"], "unknown label id '/m/zzz'"),
        (["nounderscore", "1.0", "2.0", "/m/a"], "not <YTID>_<start ms>"),
        (["x_0", "2.0", "1.0", "/m/a"], "ends"),
        (["x_0", "-1", "1.0", "/m/a"], "not a time"),
        (["x_0", "1.0", "/m/a"], "expected 4 fields"),
    ],
)
def test_bad_strong_label_rows_name_the_line(tmp_path, row, message):
    path = tmp_path / "strong.tsv"
    write_table(path, list(STRONG_COLUMNS), [["ok_0", "0.0", "1.0", "/m/a"], row])
    with pytest.raises(ValueError, match=rf"strong.tsv:3: .*{message}"):
        read_strong_labels(path, LABELS)
    path.write_text("segment,start,end,label\n")
    with pytest.raises(ValueError, match="expected the header"):
        read_strong_labels(path, LABELS)


def test_strong_labels_need_file_stems(tmp_path):
    with pytest.raises(ValueError, match="'ms_b00000001' is not a file stem Y<YTID>"):
        write_strong_labels(tmp_path / "s.tsv", {"ms_b00000001": [Event(0.0, 1.0, "Alpha", "/m/a")]})
    assert not (tmp_path / "s.tsv").exists()
