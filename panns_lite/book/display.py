"""What the book shows besides figures: short audio players side by side, slider explorers, tables.

Both are built so that the *static* HTML book works with no kernel and no network (and so is
:class:`LiveLine`, a progress line that a saved notebook keeps only in its final state):

* Players embed their audio as a base64 ``data:`` URI. As 16-bit WAV a 10 s clip at 32 kHz adds
  ~0.8 MB to a page, so every player is cut to at most :data:`MAX_SECONDS`, resampled to
  :data:`DISPLAY_RATE` and MP3-encoded by default (libsndfile, no ffmpeg): a 5 s player is then
  a few tens of KB, and every browser plays MP3.
* :func:`slider_explorer` renders every combination of its parameters up front and links the
  sliders to the shown image in the browser (``jslink`` to a ``Stack``), so moving a slider in the
  built book changes the figure without a kernel.
* :func:`styled_table` styles a results table so that a value that does not exist reads as words
  ("not reported", "not measured") rather than ``NaN``.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from panns_lite.audio import float_to_int16, resample

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

DISPLAY_RATE: int = 16000
"""Sample rate of embedded players: half the bytes of 32 kHz, and 8 kHz of bandwidth is plenty to listen."""
MAX_SECONDS: float = 5.0
"""Longest embedded player; longer requests are refused so that pages stay small."""
CODECS: dict[str, tuple[str, str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
    "wav": ("WAV", "PCM_16", "audio/wav"),
}
"""Embedding codecs: soundfile format, subtype and the MIME type of the data URI."""


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected non-empty mono audio of shape (samples,), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected float audio in [-1, 1], got dtype {x.dtype}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return x.astype(np.float32, copy=False)


def excerpt(
    audio: np.ndarray, sample_rate: int, start: float = 0.0, seconds: float = MAX_SECONDS
) -> np.ndarray:
    """``seconds`` of ``audio`` from ``start`` (clipped to the end of the clip).

    ``seconds`` may not exceed :data:`MAX_SECONDS` and ``start`` must lie inside the clip, so a
    caller cannot silently embed a long or empty player.
    """
    x = _check_audio(audio, sample_rate)
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be in (0, {MAX_SECONDS}], got {seconds}")
    first = round(start * sample_rate)
    if not 0 <= first < len(x):
        raise ValueError(f"start {start} s is outside the {len(x) / sample_rate:.3f} s clip")
    return x[first : first + round(seconds * sample_rate)]


def loudest_window(audio: np.ndarray, sample_rate: int, seconds: float = MAX_SECONDS) -> float:
    """Start time (s, on a 0.1 s grid) of the ``seconds`` window with the most energy.

    A 10 s MiniSet clip often has its events in one half; playing the loudest 5 s lets the reader
    hear them in a player that fits the page budget.
    """
    x = _check_audio(audio, sample_rate).astype(np.float64)
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    width = round(seconds * sample_rate)
    if width >= len(x):
        return 0.0
    energy = np.concatenate([[0.0], np.cumsum(x**2)])
    step = max(1, sample_rate // 10)
    starts = np.arange(0, len(x) - width + 1, step)
    best = starts[np.argmax(energy[starts + width] - energy[starts])]
    return round(best / sample_rate, 3)


def audio_data_uri(
    audio: np.ndarray, sample_rate: int, display_rate: int = DISPLAY_RATE, codec: str = "mp3"
) -> str:
    """``data:<mime>;base64,…`` of ``audio`` resampled to ``display_rate`` and encoded with ``codec``.

    Audio longer than :data:`MAX_SECONDS` is refused (cut it with :func:`excerpt`), so no path
    embeds a long clip.
    """
    x = _check_audio(audio, sample_rate)
    if display_rate <= 0:
        raise ValueError(f"display_rate must be positive, got {display_rate}")
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {sorted(CODECS)}")
    if len(x) > round(MAX_SECONDS * sample_rate):
        raise ValueError(
            f"{len(x) / sample_rate:.2f} s is longer than {MAX_SECONDS} s; cut it with excerpt() first"
        )
    file_format, subtype, mime = CODECS[codec]
    buffer = io.BytesIO()
    sf.write(
        buffer,
        float_to_int16(resample(x, sample_rate, display_rate)),
        display_rate,
        format=file_format,
        subtype=subtype,
    )
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def audio_html(
    audio: np.ndarray, sample_rate: int, display_rate: int = DISPLAY_RATE, codec: str = "mp3"
) -> str:
    """One ``<audio controls>`` element with the audio embedded (at most :data:`MAX_SECONDS`)."""
    return (
        f'<audio controls preload="metadata" style="width:100%;min-width:12em" '
        f'src="{audio_data_uri(audio, sample_rate, display_rate, codec)}"></audio>'
    )


@dataclass(frozen=True, eq=False)
class Player:
    """One cell of :func:`audio_table`: an excerpt and the text shown above it (plain text, escaped)."""

    audio: np.ndarray
    sample_rate: int
    title: str
    caption: str = ""
    start: float = 0.0
    seconds: float = MAX_SECONDS


class HTML:
    """A piece of HTML that Jupyter and the book render as such (no IPython dependency)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def audio_table(
    players: Sequence[Player], columns: int = 2, display_rate: int = DISPLAY_RATE, codec: str = "mp3"
) -> HTML:
    """Players side by side in an HTML table, ``columns`` per row, each with its title and caption.

    Listening to several clips next to each other (the FMP idea) is how a reader compares them;
    each excerpt is cut with :func:`excerpt` and embedded with :func:`audio_html`.
    """
    if not players:
        raise ValueError("audio_table needs at least one player")
    if columns < 1:
        raise ValueError(f"columns must be ≥ 1, got {columns}")
    cells = []
    for p in players:
        clip = excerpt(p.audio, p.sample_rate, p.start, p.seconds)
        span = f"{p.start:.1f}–{p.start + len(clip) / p.sample_rate:.1f} s"
        cells.append(
            '<td style="vertical-align:top;padding:6px 10px;border:none">'
            f'<div><b>{html.escape(p.title)}</b> <span style="opacity:0.7">({span})</span></div>'
            f'<div style="font-size:0.85em;margin-bottom:4px">{html.escape(p.caption)}</div>'
            f"{audio_html(clip, p.sample_rate, display_rate, codec)}</td>"
        )
    rows = ["<tr>" + "".join(cells[i : i + columns]) + "</tr>" for i in range(0, len(cells), columns)]
    return HTML(
        '<table class="panns-audio-table" style="width:100%;table-layout:fixed;border:none">'
        + "".join(rows)
        + "</table>"
    )


class LiveLine(io.TextIOBase):
    """A text stream shown as one line of notebook output, replaced in place as text arrives.

    tqdm redraws its bar by writing ``\\r`` + the new line to ``sys.stderr``. In a notebook run by
    papermill every redraw becomes an output of its own, so a ten-minute training run leaves about
    a thousand bar lines in the executed notebook and on the book's page. Written here instead
    (``with contextlib.redirect_stderr(LiveLine()): ...``), each write updates a single display
    (``display_id``, i.e. ``update_display_data``): Jupyter shows the bar moving and the saved
    notebook holds only its last state. Text is split at ``\\r`` and ``\\n``; the last non-blank
    piece is the line shown.

    ``display`` is IPython's ``display`` (the default, imported when the stream is made); it must
    accept ``display_id=True`` and return a handle with ``update``.
    """

    encoding = "utf-8"  # tqdm draws its Unicode bar only on a stream that declares an encoding

    def __init__(self, display: Callable[..., Any] | None = None) -> None:
        super().__init__()
        if display is None:
            from IPython.display import display
        self.line = ""
        self._handle = display(self._html(), display_id=True)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"LiveLine.write takes str, got {type(text).__name__}")
        pieces = [piece.rstrip() for piece in re.split(r"[\r\n]", text) if piece.strip()]
        if pieces and pieces[-1] != self.line:
            self.line = pieces[-1]
            self._handle.update(self._html())
        return len(text)

    def _html(self) -> HTML:
        return HTML(f'<pre class="panns-live-line" style="margin:0">{html.escape(self.line)}</pre>')


IMAGE_FORMATS: tuple[str, ...] = ("png", "jpeg")


def figure_bytes(fig: Figure, dpi: int = 80, image_format: str = "png") -> bytes:
    """The figure as PNG or JPEG (quality 85) bytes, tight bounding box; the figure is left open."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    buffer = io.BytesIO()
    extra = {"pil_kwargs": {"quality": 85}} if image_format == "jpeg" else {}
    fig.savefig(buffer, format=image_format, dpi=dpi, bbox_inches="tight", **extra)
    return buffer.getvalue()


def slider_explorer(
    render: Callable[..., Figure],
    choices: Mapping[str, Sequence[Any]],
    dpi: int = 72,
    labels: Mapping[str, str] | None = None,
    image_format: str = "jpeg",
) -> ipywidgets.VBox:
    """One slider per parameter over a precomputed figure for every combination of ``choices``.

    ``render(**params)`` must return a matplotlib Figure; it is called once per combination (the
    product of the choice lists, so keep them short), saved as an image and closed. Each slider
    is linked in the browser to a ``Stack`` of images (nested, one level per parameter), so the
    explorer keeps working in the static HTML book, where no kernel can re-run ``render``.
    ``labels`` gives slider captions (default: the parameter names). Every image is stored in
    the page, hence JPEG by default: spectrogram-like figures are ~4× smaller than as PNG.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    if not choices or any(len(v) == 0 for v in choices.values()):
        raise ValueError("slider_explorer needs at least one parameter, each with at least one value")
    names = list(choices)
    labels = dict(labels or {})
    unknown = set(labels) - set(names)
    if unknown:
        raise ValueError(f"labels for unknown parameters {sorted(unknown)}")
    sliders = [_slider(choices[n], labels.get(n, n)) for n in names]
    images: dict[tuple[Any, ...], widgets.Image] = {}
    for combination in itertools.product(*(choices[n] for n in names)):
        fig = render(**dict(zip(names, combination)))
        images[combination] = widgets.Image(
            value=figure_bytes(fig, dpi, image_format),
            format=image_format,
            layout=widgets.Layout(max_width="100%", height="auto"),
        )
        plt.close(fig)
    stacks, links = _linked_stacks(images, sliders, choices)
    box = widgets.VBox([*sliders, stacks])
    box.links = links  # keep the links alive as long as the explorer
    return box


def _slider(values: Sequence[Any], description: str) -> ipywidgets.SelectionSlider:
    """A slider over ``values`` (each shown as its ``str``) with its caption in full."""
    import ipywidgets as widgets

    return widgets.SelectionSlider(
        options=[(str(v), v) for v in values],
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="60%"),
    )


def _linked_stacks(
    images: Mapping[tuple[Any, ...], ipywidgets.Image],
    sliders: Sequence[ipywidgets.SelectionSlider],
    choices: Mapping[str, Sequence[Any]],
) -> tuple[ipywidgets.Widget, list[Any]]:
    """The images in nested ``Stack`` s, one level per parameter, and the ``jslink`` s tying each
    level's shown child to its slider: links run in the browser, so the static book needs no kernel."""
    import ipywidgets as widgets

    names = list(choices)
    links = []

    def level(depth: int, prefix: tuple[Any, ...]) -> widgets.Widget:
        if depth == len(names):
            return images[prefix]
        stack = widgets.Stack(
            [level(depth + 1, prefix + (v,)) for v in choices[names[depth]]], selected_index=0
        )
        links.append(widgets.jslink((sliders[depth], "index"), (stack, "selected_index")))
        return stack

    return level(0, ()), links


def styled_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    precision: int = 3,
    missing: str = "not reported",
) -> Styler:
    """``frame`` styled for the book: ``formats`` (format strings by column) over ``precision``
    decimals elsewhere, and ``missing`` in every cell that holds no value (NaN or None).

    A published table that lacks a value, or a comparison that does not apply to a row, is then read
    as such rather than as a number that failed (``NaN``).
    """
    unknown = sorted(set(formats or {}) - set(frame.columns))
    if unknown:
        raise ValueError(f"formats name columns the table does not have: {unknown}")
    styled = frame.style.format(precision=precision, na_rep=missing)
    if formats:
        styled = styled.format(dict(formats), na_rep=missing)
    return styled
