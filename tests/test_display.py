"""Book display helpers: short embedded players and slider explorers that work without a kernel."""

import base64
import contextlib
import io
import re
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import soundfile as sf
from matplotlib.figure import Figure
from tqdm import tqdm

from panns_lite.book.display import (
    DISPLAY_RATE,
    MAX_SECONDS,
    LiveLine,
    Player,
    audio_data_uri,
    audio_html,
    audio_table,
    excerpt,
    loudest_window,
    slider_explorer,
    styled_table,
)

SR = 32000


def tone(seconds: float, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def decode(uri: str) -> tuple[np.ndarray, int]:
    header, _, payload = uri.partition(",")
    assert header in ("data:audio/mpeg;base64", "data:audio/wav;base64")
    return sf.read(io.BytesIO(base64.b64decode(payload)), dtype="float32")


@pytest.mark.parametrize("codec, mime", [("mp3", "audio/mpeg"), ("wav", "audio/wav")])
def test_data_uri_holds_the_same_sound_at_16k(codec: str, mime: str) -> None:
    uri = audio_data_uri(tone(2.0), SR, codec=codec)
    assert uri.startswith(f"data:{mime};base64,")
    audio, rate = decode(uri)
    assert rate == DISPLAY_RATE
    assert len(audio) == pytest.approx(2 * DISPLAY_RATE, abs=0 if codec == "wav" else 1200)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * rate / len(audio) == pytest.approx(440, abs=1)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.05)


def test_mp3_players_are_much_smaller_than_wav() -> None:
    noise = (0.1 * np.random.default_rng(0).standard_normal(5 * SR)).astype(np.float32)
    assert len(audio_data_uri(noise, SR, codec="mp3")) < len(audio_data_uri(noise, SR, codec="wav")) / 3


def test_long_audio_and_unknown_codecs_are_refused() -> None:
    with pytest.raises(ValueError, match="longer than"):
        audio_data_uri(tone(MAX_SECONDS + 0.5), SR)
    with pytest.raises(ValueError, match="codec"):
        audio_data_uri(tone(1.0), SR, codec="flac")
    with pytest.raises(ValueError, match="seconds must be in"):
        excerpt(tone(10.0), SR, seconds=MAX_SECONDS + 1)


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.zeros((2, 100), dtype=np.float32), ValueError),
        (np.zeros(0, dtype=np.float32), ValueError),
        (np.zeros(100, dtype=np.int16), TypeError),
    ],
)
def test_bad_audio_is_rejected(bad: np.ndarray, error: type) -> None:
    with pytest.raises(error):
        audio_html(bad, SR)


def test_excerpt_cuts_from_start_and_checks_the_start() -> None:
    x = np.arange(10 * SR, dtype=np.float32) / (10 * SR)
    cut = excerpt(x, SR, start=2.0, seconds=3.0)
    assert len(cut) == 3 * SR and cut[0] == x[2 * SR]
    assert len(excerpt(x, SR, start=9.0, seconds=5.0)) == SR  # clipped at the end of the clip
    with pytest.raises(ValueError, match="outside"):
        excerpt(x, SR, start=10.0)


def test_loudest_window_finds_the_event() -> None:
    x = np.zeros(10 * SR, dtype=np.float32)
    x[7 * SR : 8 * SR] = tone(1.0)
    start = loudest_window(x, SR, seconds=2.0)
    assert start <= 7.0 and start + 2.0 >= 8.0
    assert loudest_window(tone(1.0), SR, seconds=5.0) == 0.0
    with pytest.raises(ValueError):
        loudest_window(x, SR, seconds=0)


def test_audio_table_lays_out_players_with_escaped_captions() -> None:
    players = [
        Player(tone(6.0, 200 + 100 * i), SR, f"clip {i}", caption="Dog & <Bark>", start=0.5, seconds=3.0)
        for i in range(3)
    ]
    markup = audio_table(players, columns=2)._repr_html_()
    assert markup.count("<tr>") == 2 and markup.count("<td") == 3
    assert markup.count("<audio controls") == 3
    assert "Dog &amp; &lt;Bark&gt;" in markup and "<Bark>" not in markup
    assert "0.5–3.5 s" in markup
    uris = re.findall(r'src="(data:[^"]+)"', markup)
    assert len(uris) == 3
    for uri in uris:
        audio, rate = decode(uri)
        assert abs(len(audio) - 3 * rate) < 0.1 * rate


def test_audio_table_rejects_empty_or_bad_layout() -> None:
    with pytest.raises(ValueError):
        audio_table([])
    with pytest.raises(ValueError):
        audio_table([Player(tone(1.0), SR, "x")], columns=0)


def render(n_fft: int, n_mels: int) -> Figure:
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, n_fft], [0, n_mels])
    return fig


def test_slider_explorer_precomputes_every_combination_and_links_sliders() -> None:
    import ipywidgets as widgets

    calls = []

    def counted(**params):
        calls.append(params)
        return render(**params)

    box = slider_explorer(
        counted, {"n_fft": [256, 512, 1024], "n_mels": [32, 64]}, labels={"n_fft": "window"}
    )
    assert len(calls) == 6
    sliders, outer = box.children[:2], box.children[2]
    assert [s.description for s in sliders] == ["window", "n_mels"]
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3
    inner = outer.children[1]
    assert isinstance(inner, widgets.Stack) and len(inner.children) == 2
    image = inner.children[1]
    assert isinstance(image, widgets.Image) and image.format == "jpeg"
    assert bytes(image.value).startswith(b"\xff\xd8")  # JPEG start-of-image marker
    # one link from the n_fft slider to the outer stack, one from n_mels to each inner stack
    assert len(box.links) == 4
    assert {(link.source[0], link.target[0]) for link in box.links} == (
        {(sliders[0], outer)} | {(sliders[1], stack) for stack in outer.children}
    )
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in box.links)


def test_slider_explorer_can_store_png() -> None:
    box = slider_explorer(render, {"n_fft": [1, 2], "n_mels": [3]}, image_format="png")
    image = box.children[2].children[0].children[0]
    assert image.format == "png" and bytes(image.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="image_format"):
        slider_explorer(render, {"n_fft": [1]}, image_format="gif")


def test_slider_explorer_rejects_empty_choices_and_unknown_labels() -> None:
    with pytest.raises(ValueError):
        slider_explorer(render, {})
    with pytest.raises(ValueError):
        slider_explorer(render, {"n_fft": [], "n_mels": [1]})
    with pytest.raises(ValueError, match="unknown"):
        slider_explorer(render, {"n_fft": [1], "n_mels": [1]}, labels={"hop": "x"})


class FakeHandle:
    """What IPython's ``display(..., display_id=True)`` returns: records every update."""

    def __init__(self, first) -> None:
        self.shown = [str(first)]

    def update(self, obj) -> None:
        self.shown.append(str(obj))


def fake_display(obj, display_id: bool = False) -> FakeHandle:
    assert display_id is True
    return FakeHandle(obj)


def test_live_line_keeps_only_the_latest_bar_state() -> None:
    stream = LiveLine(display=fake_display)
    with contextlib.redirect_stderr(stream):
        for _ in tqdm(range(3), mininterval=0, desc="steps"):
            pass
        print("warning: <done>", file=sys.stderr)
    handle = stream._handle
    assert stream.line == "warning: <done>"
    assert "3/3" in handle.shown[-2] and "█" in handle.shown[-2]  # the final bar, drawn in Unicode
    assert "warning: &lt;done&gt;" in handle.shown[-1]  # escaped HTML
    assert all(s.count("<pre") == 1 for s in handle.shown)  # always one line, never accumulated


def test_live_line_updates_only_on_new_text_and_rejects_bytes() -> None:
    stream = LiveLine(display=fake_display)
    assert stream.write("\r 10%  ") == 7 and stream.line == " 10%"
    assert stream.write("\r 10%\n") == 6 and stream.write("") == 0 and stream.write("\n  \r") == 4
    assert len(stream._handle.shown) == 2  # the initial empty line and one update
    assert stream.writable() and not stream.isatty()
    with pytest.raises(TypeError):
        stream.write(b"bytes")


# ------------------------------------------------------------------------------ tables
def test_styled_table_writes_missing_values_as_words_in_every_column():
    import pandas as pd

    frame = pd.DataFrame(
        {"mAP": [0.4512, None], "paper": [float("nan"), 0.431], "note": ["a", None]}, index=["x", "y"]
    )
    html_text = styled_table(frame, {"paper": "{:.1%}"}, missing="not reported").to_html()
    assert "nan" not in html_text.lower() and "None" not in html_text
    assert html_text.count("not reported") == 3
    assert "0.451" in html_text and "43.1%" in html_text


def test_styled_table_refuses_formats_for_absent_columns():
    import pandas as pd

    with pytest.raises(ValueError, match=r"\['mAUC'\]"):
        styled_table(pd.DataFrame({"mAP": [0.5]}), {"mAUC": "{:.3f}"})
