"""The book's figures: spectrograms with strong labels, label statistics, front end, training, cost.

Every function draws with the object-oriented API and returns a ``matplotlib.figure.Figure`` that
pyplot does not track. A notebook cell that ends with the call shows the figure exactly once (no
duplicate from pyplot's end-of-cell flush), and long chapters do not pile up open figures. Pass
``ax=`` to draw into a panel of a larger figure (made with :func:`subplots`); the function then
returns that panel's figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from panns_lite.events import Event
from panns_lite.features import PANNS_32K, FrontEndConfig, mel_centre_frequencies

if TYPE_CHECKING:
    from panns_lite.profile import ModelProfile

# Load the backend module now: in a notebook that is matplotlib-inline, whose import registers the
# PNG formatter that displays a returned Figure. Without it, a chapter that never makes a pyplot
# figure would show "<Figure size …>" as text (checked with papermill).
plt.switch_backend(plt.get_backend())


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str, legend: int | None = 8) -> None:
    """Axis labels, a light grid, the legend in font size ``legend`` (None: no legend) and the title:
    how every line and scatter plot of the book ends."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if legend is not None:
        ax.legend(fontsize=legend)
    ax.set_title(title)


def subplots(
    nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, Any]:
    """``plt.subplots`` without pyplot: a Figure that is displayed only when returned or ``display``-ed."""
    fig = Figure(figsize=figsize or (7.0, 3.0 * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True, **kwargs)


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = subplots(figsize=figsize)
    return fig, ax


def _as_array(x: Any, name: str, ndim: int) -> np.ndarray:
    """A numpy copy of a numpy array or torch tensor, squeezed of leading size-1 axes (B=1, C=1)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    if a.ndim != ndim or a.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {np.shape(x)}")
    return a


def _hz_label(hz: float) -> str:
    if hz >= 1000:
        return f"{hz / 1000:.1f}k".replace(".0k", "k")
    return f"{hz:.0f}"


def plot_spectrogram(
    spec_db: Any,
    sample_rate: int,
    hop_length: int,
    bin_hz: Sequence[float],
    *,
    events: Iterable[Any] = (),
    title: str = "",
    ax: Axes | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Figure:
    """A (frames, bins) dB spectrogram, time in seconds, bins labelled with their frequency in Hz.

    ``bin_hz`` gives each bin's frequency, so the same function draws linear STFT bins and mel
    bins (whose spacing in Hz is not uniform, hence labelled ticks rather than a Hz axis).
    ``events`` (:class:`~panns_lite.events.Event` s or (label, onset, offset) tuples) are drawn as
    outlined boxes over the time they span, one colour per label; without ``ax`` an event roll (one
    lane per label) is added underneath.
    """
    spec = _as_array(spec_db, "spec_db", 2)
    bin_hz = np.asarray(bin_hz, dtype=np.float64)
    if len(bin_hz) != spec.shape[1]:
        raise ValueError(f"bin_hz has {len(bin_hz)} entries for a spectrogram with {spec.shape[1]} bins")
    if sample_rate <= 0 or hop_length <= 0:
        raise ValueError("sample_rate and hop_length must be positive")
    events = [_as_event(e) for e in events]
    _check_events(events)
    labels = list(dict.fromkeys(e.label for e in events))
    if ax is None and events:
        fig, ax, roll = _with_roll(3.2, 0.2 * len(labels) + 0.3)
    else:
        (fig, ax), roll = _axes(ax, (8.0, 3.2)), None
    seconds = spec.shape[0] * hop_length / sample_rate
    image = _draw_bins(ax, spec, bin_hz, seconds, vmin, vmax)
    ax.set_title(title)
    if colorbar:
        fig.colorbar(image, ax=ax, label="dB", pad=0.01)
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    _outline_events(ax, events, labels, colours, spec.shape[1])
    if roll is not None:
        _draw_event_roll(roll, events, labels, colours, seconds)
    else:
        ax.set_xlabel("time (s)")
    return fig


def _check_events(events: Sequence[Event], what: str = "event", names: Sequence[str] | None = None) -> None:
    """Refuse an event that would be drawn off the figure: one that does not run forward from 0 s or,
    with ``names``, whose label has no lane (the roll would then under-report it)."""
    for e in events:
        if names is not None and e.label not in names:
            raise ValueError(f"{what} {e.label!r} is not one of the plotted classes")
        if not 0 <= e.onset < e.offset:
            raise ValueError(f"{what} {e} must have 0 <= onset < offset")


def _with_roll(height: float, lanes: float) -> tuple[Figure, Axes, Axes]:
    """A figure of a main panel ``height`` inches high over an event roll ``lanes`` inches high, sharing
    the time axis, so an event lines up with the frames it spans."""
    fig, (ax, roll) = subplots(
        2, 1, figsize=(8.0, height + lanes), height_ratios=[height, lanes], sharex=True
    )
    return fig, ax, roll


def _draw_bins(
    ax: Axes, spec: np.ndarray, bin_hz: np.ndarray, seconds: float, vmin: float | None, vmax: float | None
) -> Any:
    """The (frames, bins) image over ``seconds``, with six bins labelled by their frequency in Hz
    (mel bins are not evenly spaced in Hz, so the ticks name bins rather than scale an axis)."""
    image = ax.imshow(
        spec.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
        extent=(0, seconds, -0.5, spec.shape[1] - 0.5),
        interpolation="nearest",
    )
    ticks = np.unique(np.linspace(0, spec.shape[1] - 1, 6).round().astype(int))
    ax.set_yticks(ticks, [_hz_label(bin_hz[t]) for t in ticks])
    ax.set_ylabel("frequency (Hz)")
    return image


def _outline_events(
    ax: Axes, events: Sequence[Event], labels: list[str], colours: Mapping[str, str], n_bins: int
) -> None:
    """Each event as an outlined box over the time it spans, in its label's band of the frequency axis
    (first label on top, as in the roll), so overlapping events of different labels stay apart."""
    for e in events:
        lane = len(labels) - 1 - labels.index(e.label)  # first label on top, as in the roll
        height = n_bins / len(labels)
        ax.add_patch(
            Rectangle(
                (e.onset, -0.5 + lane * height),
                e.offset - e.onset,
                height,
                fill=False,
                edgecolor=colours[e.label],
                linewidth=1.5,
            )
        )


def _draw_event_roll(
    roll: Axes, events: Sequence[Event], labels: list[str], colours: Mapping[str, str], seconds: float
) -> None:
    """One lane per label, first label on top, one bar per event: strong labels read as a score."""
    for e in events:
        roll.barh(labels.index(e.label), e.offset - e.onset, left=e.onset, color=colours[e.label], height=0.7)
    roll.set_yticks(range(len(labels)), labels, fontsize=7)
    roll.invert_yaxis()
    roll.set_xlim(0, seconds)
    roll.set_xlabel("time (s)")


def plot_logmel(
    logmel: Any,
    frontend: FrontEndConfig = PANNS_32K,
    *,
    events: Iterable[Any] = (),
    title: str = "",
    ax: Axes | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Figure:
    """A log-mel (frames, mel bins) — or LogMel's (1, 1, frames, mels) output — with its mel axis in Hz."""
    spec = _as_array(logmel, "logmel", 2)
    if spec.shape[1] != frontend.n_mels:
        raise ValueError(f"logmel has {spec.shape[1]} bins, the front end {frontend.n_mels}")
    return plot_spectrogram(
        spec,
        frontend.sample_rate,
        frontend.hop_length,
        mel_centre_frequencies(frontend),
        events=events,
        title=title,
        ax=ax,
        vmin=vmin,
        vmax=vmax,
        colorbar=colorbar,
    )


def plot_framing(
    audio: Any,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    *,
    start: float = 0.0,
    frames: int = 4,
    ax: Axes | None = None,
) -> Figure:
    """A stretch of waveform with the Hann windows of ``frames`` consecutive centred STFT frames.

    Frame ``t`` is centred on sample ``t·hop_length`` (``center=True``), so the picture shows how
    much neighbouring windows overlap (n_fft / hop_length frames cover every sample).
    """
    x = _as_array(audio, "audio", 1)
    if n_fft < 2 or hop_length < 1 or frames < 1:
        raise ValueError("need n_fft >= 2, hop_length >= 1 and frames >= 1")
    first = math.ceil(start * sample_rate / hop_length)
    centres = [(first + t) * hop_length for t in range(frames)]
    lo, hi = max(0, centres[0] - n_fft // 2), min(len(x), centres[-1] + n_fft // 2)
    if hi - lo < 2:
        raise ValueError(f"start {start} s leaves no samples to draw")
    fig, ax = _axes(ax, (8.0, 2.8))
    t = np.arange(lo, hi) / sample_rate * 1000
    ax.plot(t, x[lo:hi], color="0.6", linewidth=0.7, label="waveform")
    peak = max(float(np.abs(x[lo:hi]).max()), 1e-6)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    for i, c in enumerate(centres):
        idx = np.arange(c - n_fft // 2, c + n_fft // 2)
        ax.plot(
            idx / sample_rate * 1000,
            peak * window,
            color=f"C{i % 10}",
            linewidth=1.5,
            label=f"frame {first + i}",
        )
        ax.axvline(c / sample_rate * 1000, color=f"C{i % 10}", linestyle=":", linewidth=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("amplitude (full scale ±1)")
    ax.legend(loc="upper right", fontsize=7, ncols=min(5, frames + 1))
    return fig


def plot_mel_filterbank(mel_fb: Any, sample_rate: int, *, ax: Axes | None = None, title: str = "") -> Figure:
    """Every filter of an (n_fft/2+1, n_mels) mel matrix against frequency in Hz."""
    fb = _as_array(mel_fb, "mel_fb", 2)
    if fb.shape[0] < 2:
        raise ValueError(f"mel_fb must be (frequency bins, mel bins), got shape {fb.shape}")
    fig, ax = _axes(ax, (8.0, 3.0))
    hz = np.arange(fb.shape[0]) * sample_rate / (2 * (fb.shape[0] - 1))
    colours = [f"C{i % 10}" for i in range(fb.shape[1])]
    for m in range(fb.shape[1]):
        ax.plot(hz, fb[:, m], color=colours[m], linewidth=0.9)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("weight")
    ax.set_xlim(0, hz[-1])
    ax.set_title(title or f"{fb.shape[1]} mel filters over {fb.shape[0]} FFT bins")
    return fig


def plot_label_counts(
    counts: Mapping[str, int], *, annotate: int = 6, title: str = "", log: bool = True, ax: Axes | None = None
) -> Figure:
    """Clips per class, sorted: the long tail of a multi-label data set.

    The ``annotate`` most frequent classes are named on the plot; the text box gives how much of
    the label mass the top tenth of the classes holds.
    """
    if not counts:
        raise ValueError("counts is empty")
    if any(v < 0 for v in counts.values()):
        raise ValueError("counts must be non-negative")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    values = np.array([v for _, v in ranked], dtype=np.float64)
    fig, ax = _axes(ax, (8.0, 3.2))
    ax.bar(np.arange(1, len(values) + 1), values, width=1.0, color="C0")
    if log:
        ax.set_yscale("log")
    for rank, (name, value) in enumerate(ranked[:annotate], start=1):
        ax.annotate(
            name,
            (rank, value),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=7,
            rotation=0,
            va="center",
        )
    top = max(1, round(len(values) / 10))
    share = values[:top].sum() / max(values.sum(), 1)
    ax.text(
        0.98,
        0.95,
        f"{len(values)} classes; the top {top} hold {share:.0%} of the labels",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
    )
    ax.set_xlabel("class rank")
    ax.set_ylabel("clips")
    ax.set_title(title)
    return fig


def plot_learning_curves(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str = "mAP",
    *,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """``metric`` against iteration for each run's statistics (the trainer's ``statistics.json`` rows).

    Each legend entry gives the last value and, when the rows have it, the number of classes that
    value averages (``classes``: mAP is only defined over classes with a positive clip).
    """
    if not runs:
        raise ValueError("runs is empty")
    fig, ax = _axes(ax, (7.0, 3.2))
    for name, rows in runs.items():
        if not rows:
            raise ValueError(f"run {name!r} has no statistics")
        missing = [i for i, r in enumerate(rows) if "iteration" not in r or metric not in r]
        if missing:
            raise ValueError(f"run {name!r}: rows {missing} lack 'iteration' or {metric!r}")
        xs = [r["iteration"] for r in rows]
        ys = [np.nan if r[metric] is None else r[metric] for r in rows]
        last = rows[-1]
        note = f", {last['classes']} classes" if "classes" in last else ""
        ax.plot(xs, ys, marker="o", markersize=3, label=f"{name} (last {ys[-1]:.3f}{note})")
    _finish(ax, "iteration", metric, title)
    return fig


def plot_class_ap(
    ap: Sequence[float | None],
    names: Sequence[str],
    *,
    top: int = 10,
    bottom: int = 10,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """Horizontal bars of the ``top`` best and ``bottom`` worst classes by average precision.

    Classes whose AP is undefined (``None``/NaN: no positive clip in the evaluation set) are left
    out; the title says how many remain.
    """
    if len(ap) != len(names):
        raise ValueError(f"{len(ap)} AP values for {len(names)} names")
    if top < 0 or bottom < 0 or top + bottom == 0:
        raise ValueError("top and bottom must be >= 0 and not both 0")
    defined = [(float(a), n) for a, n in zip(ap, names) if a is not None and not math.isnan(a)]
    if not defined:
        raise ValueError("no class has a defined AP")
    defined.sort(key=lambda t: (-t[0], t[1]))
    shown = defined if top + bottom >= len(defined) else defined[:top] + defined[len(defined) - bottom :]
    fig, ax = _axes(ax, (7.0, 0.22 * len(shown) + 1.0))
    y = np.arange(len(shown))
    colours = ["C2" if i < top else "C3" for i in range(len(shown))] if len(shown) < len(defined) else "C0"
    ax.barh(y, [a for a, _ in shown], color=colours)
    ax.set_yticks(y, [n for _, n in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("average precision")
    ax.set_title(title or f"{len(shown)} of {len(defined)} classes with a defined AP")
    return fig


def plot_layer_costs(profiles: Mapping[str, ModelProfile], *, title: str = "") -> Figure:
    """Parameters (M) and MACs (G) per layer, one bar group per layer and one colour per model.

    Layers are matched by name (C1…Cn, fc1, fc), so a pruned CNN14 can be drawn beside the full one.
    """
    if not profiles:
        raise ValueError("profiles is empty")
    layer_names = list(dict.fromkeys(row.name for p in profiles.values() for row in p.layers))
    fig, (top, bottom) = subplots(2, 1, figsize=(8.0, 4.6), sharex=True)
    width = 0.8 / len(profiles)
    x = np.arange(len(layer_names))
    for i, (model, profile) in enumerate(profiles.items()):
        rows = {row.name: row for row in profile.layers}
        params = [rows[n].params / 1e6 if n in rows else 0.0 for n in layer_names]
        macs = [rows[n].macs / 1e9 if n in rows else 0.0 for n in layer_names]
        offset = (i - (len(profiles) - 1) / 2) * width
        top.bar(x + offset, params, width, label=model, color=f"C{i % 10}")
        bottom.bar(x + offset, macs, width, color=f"C{i % 10}")
    top.set_ylabel("parameters (M)")
    bottom.set_ylabel("MACs (G)")
    bottom.set_xticks(x, layer_names)
    top.legend(fontsize=8)
    top.set_title(title)
    return fig


def plot_tradeoff(
    names: Sequence[str],
    cost: Sequence[float],
    score: Sequence[float],
    *,
    size: Sequence[float] | None = None,
    xlabel: str = "cost",
    ylabel: str = "score",
    logx: bool = True,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """A labelled scatter of score against cost (e.g. mAP against MACs), marker area ∝ ``size``."""
    if not (len(names) == len(cost) == len(score)) or not names:
        raise ValueError("names, cost and score must be non-empty and of equal length")
    if size is not None and len(size) != len(names):
        raise ValueError("size must have one entry per name")
    if logx and min(cost) <= 0:
        raise ValueError("a log cost axis needs positive costs")
    fig, ax = _axes(ax, (6.5, 3.6))
    area = 40.0 if size is None else 400.0 * np.asarray(size, dtype=np.float64) / max(size)
    ax.scatter(cost, score, s=area, alpha=0.6, color=[f"C{i % 10}" for i in range(len(names))])
    for name, c, s in zip(names, cost, score):
        ax.annotate(name, (c, s), xytext=(6, 4), textcoords="offset points", fontsize=8)
    if logx:
        ax.set_xscale("log")
    _finish(ax, xlabel, ylabel, title, legend=None)
    return fig


def plot_class_shares(
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "class rank",
    ylabel: str = "share",
    log: bool = True,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """One line per series of per-class values over the same classes, in the given order.

    Made for comparing samplers (reference §5): with the classes ranked by their training clips,
    the share of drawn clips that carry each class falls along the long tail for plain shuffling
    and stays flatter for balanced sampling. A log axis needs positive values; zeros are not drawn.
    """
    if not series:
        raise ValueError("series is empty")
    lengths = {len(v) for v in series.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"every series needs the same, non-zero number of classes; got lengths {sorted(lengths)}"
        )
    if any(min(v) < 0 for v in series.values()):
        raise ValueError("values must be non-negative")
    fig, ax = _axes(ax, (7.0, 3.2))
    rank = np.arange(1, lengths.pop() + 1)
    for i, (name, values) in enumerate(series.items()):
        y = np.asarray(values, dtype=np.float64)
        ax.plot(
            rank,
            np.where(y > 0, y, np.nan) if log else y,
            marker="o",
            markersize=2.5,
            linewidth=1,
            color=f"C{i % 10}",
            label=name,
        )
    if log:
        ax.set_yscale("log")
    _finish(ax, xlabel, ylabel, title)
    return fig


def plot_ap_by_count(
    ap: Sequence[float | None],
    counts: Sequence[float],
    names: Sequence[str],
    *,
    annotate: int = 3,
    lines: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """Per-class AP against the class's training positives (log axis): does AP follow the long tail?

    Classes without a defined AP (no evaluation positive) or without training positives (not on a
    log axis) are left out; the ``annotate`` highest-AP classes are named (the lowest crowd the
    bottom of the plot; :func:`plot_class_ap` lists them), and ``lines`` (label → value) draws
    horizontal references such as the mAP.
    """
    if not len(ap) == len(counts) == len(names):
        raise ValueError(f"{len(ap)} AP values, {len(counts)} counts and {len(names)} names")
    if annotate < 0:
        raise ValueError("annotate must be >= 0")
    shown = [
        (float(c), float(a), n)
        for a, c, n in zip(ap, counts, names)
        if a is not None and not math.isnan(a) and c > 0
    ]
    if not shown:
        raise ValueError("no class has both a defined AP and a training positive")
    fig, ax = _axes(ax, (6.5, 3.6))
    ax.scatter([c for c, _, _ in shown], [a for _, a, _ in shown], s=18, alpha=0.7, color="C0")
    for c, a, n in sorted(shown, key=lambda t: (-t[1], t[2]))[:annotate]:
        ax.annotate(n, (c, a), xytext=(5, 3), textcoords="offset points", fontsize=7)
    for i, (label, value) in enumerate((lines or {}).items()):
        ax.axhline(value, color=f"C{(i + 1) % 10}", linestyle="--", linewidth=1, label=f"{label} {value:.3f}")
    if lines:
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    _finish(ax, "training clips with the class", "average precision", title or f"{len(shown)} classes", None)
    return fig


def plot_fold_scores(
    scores: Mapping[str, Sequence[float]],
    *,
    chance: float | None = None,
    xlabel: str = "accuracy",
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """One horizontal bar per method at its mean over folds, ± one standard deviation, each fold a dot.

    Cross-validation on a small set gives few, spread-out numbers; showing every fold beside the
    mean keeps that spread in view. ``chance`` draws the score of guessing as a dashed line.
    """
    if not scores or any(len(v) == 0 for v in scores.values()):
        raise ValueError("scores needs at least one method, each with at least one fold")
    fig, ax = _axes(ax, (6.5, 0.5 * len(scores) + 1.2))
    y = np.arange(len(scores))
    values = [np.asarray(v, dtype=np.float64) for v in scores.values()]
    means = [v.mean() for v in values]
    stds = [v.std(ddof=1) if len(v) > 1 else 0.0 for v in values]
    ax.barh(y, means, xerr=stds, color=[f"C{i % 10}" for i in range(len(scores))], alpha=0.6, capsize=3)
    for i, v in enumerate(values):
        ax.plot(v, np.full(len(v), y[i]), "k.", markersize=6)
    if chance is not None:
        ax.axvline(chance, color="0.4", linestyle="--", linewidth=1, label=f"chance {chance:.3f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(y, list(scores))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig


def _as_event(event: Any) -> Event:
    """An :class:`~panns_lite.events.Event` from a (label, onset, offset) tuple, or the event itself.

    The tuple is the short form for a figure drawn by hand (a strong label typed into a chapter);
    detected and reference events plot as they are.
    """
    if isinstance(event, Event):
        return event
    label, onset, offset = event
    return Event(float(onset), float(offset), label, mid="")


def plot_framewise(
    probabilities: Any,
    frame_hop: float,
    names: Sequence[str],
    *,
    reference: Iterable[Any] = (),
    detected: Iterable[Any] = (),
    threshold: float | None = None,
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Framewise probabilities (frames, classes), one line per class, over the clip's events.

    Frame ``k`` is drawn at ``k · frame_hop`` seconds (as :class:`panns_lite.inference.Framewise`
    times them); ``names`` names the columns. ``reference`` (annotated) and ``detected`` events —
    (label, onset, offset) tuples or :class:`~panns_lite.events.Event` s — go in an
    event roll underneath, one lane per class in the line's colour: reference as a filled bar,
    detected as a thin outlined bar below it, so a reader sees where the two agree. With ``ax``
    only the lines are drawn (no roll). An event whose label is not in ``names`` is an error rather
    than silently dropped, since the roll would then under-report what was detected.
    """
    p = _as_array(probabilities, "probabilities", 2)
    if p.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for {p.shape[1]} columns of probabilities")
    if len(set(names)) != len(names):
        raise ValueError("names must be distinct (they label the lanes)")
    if frame_hop <= 0:
        raise ValueError(f"frame_hop must be positive, got {frame_hop}")
    groups = {"reference": [_as_event(e) for e in reference], "detected": [_as_event(e) for e in detected]}
    for kind, events in groups.items():
        _check_events(events, f"{kind} event", names)
    if ax is None and (groups["reference"] or groups["detected"]):
        fig, ax, roll = _with_roll(2.8, 0.28 * len(names) + 0.4)
    else:
        (fig, ax), roll = _axes(ax, (8.0, 2.8)), None
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
    _draw_probabilities(ax, p, frame_hop, names, colours, threshold)
    ax.set_title(title)
    if roll is None:
        ax.set_xlabel("time (s)")
        return fig
    _draw_detection_roll(roll, groups["reference"], groups["detected"], names, colours)
    return fig


def _draw_probabilities(
    ax: Axes,
    p: np.ndarray,
    frame_hop: float,
    names: Sequence[str],
    colours: Mapping[str, str],
    threshold: float | None,
) -> None:
    """One line per class on a 0-1 probability axis, frame ``k`` at ``k · frame_hop`` s, with the
    detection ``threshold`` dashed across: where a line crosses it is where an event starts or ends."""
    times = np.arange(p.shape[0]) * frame_hop
    for i, name in enumerate(names):
        ax.plot(times, p[:, i], color=colours[name], linewidth=1.2, label=name)
    if threshold is not None:
        ax.axhline(threshold, color="0.3", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, p.shape[0] * frame_hop)
    ax.set_ylabel("probability")
    ax.legend(fontsize=7, loc="upper right", ncols=min(3, len(names) + (threshold is not None)))


def _draw_detection_roll(
    roll: Axes,
    reference: Sequence[Event],
    detected: Sequence[Event],
    names: Sequence[str],
    colours: Mapping[str, str],
) -> None:
    """One lane per class: reference events as filled bars, detected ones as thin hatched bars just
    below, so a reader sees where the two agree."""
    for e in reference:
        roll.barh(
            names.index(e.label) - 0.12,
            e.offset - e.onset,
            left=e.onset,
            height=0.45,
            color=colours[e.label],
            alpha=0.6,
        )
    for e in detected:
        roll.barh(
            names.index(e.label) + 0.28,
            e.offset - e.onset,
            left=e.onset,
            height=0.22,
            fill=False,
            edgecolor=colours[e.label],
            linewidth=1.2,
            hatch="////",
        )
    for lane in range(1, len(names)):
        roll.axhline(lane - 0.5, color="0.85", linewidth=0.6)
    roll.set_yticks(range(len(names)), names, fontsize=7)
    roll.set_ylim(len(names) - 0.5, -0.5)
    roll.set_xlabel("time (s): reference (filled), detected (hatched)")


def plot_embedding_map(
    points: Any,
    labels: Sequence[str],
    *,
    top: int = 8,
    title: str = "",
    ax: Axes | None = None,
    legend: bool = True,
) -> Figure:
    """A 2-D projection of embeddings (n, 2), one colour per label for the ``top`` most frequent.

    More than about ten colours cannot be told apart, so the rarer labels are drawn in light grey
    as "other" (underneath the coloured points); the legend gives each label's count.
    """
    xy = _as_array(points, "points", 2)
    if xy.shape[1] != 2:
        raise ValueError(f"points must be (n, 2), got shape {xy.shape}")
    if len(labels) != len(xy):
        raise ValueError(f"{len(labels)} labels for {len(xy)} points")
    if not 1 <= top <= 10:
        raise ValueError(f"top must be between 1 and 10 (distinct colours), got {top}")
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    shown = sorted(counts, key=lambda k: (-counts[k], k))[:top]
    fig, ax = _axes(ax, (6.5, 4.6))
    array = np.asarray(labels, dtype=object)
    other = ~np.isin(array, shown)
    if other.any():
        ax.scatter(xy[other, 0], xy[other, 1], s=12, color="0.8", label=f"other ({int(other.sum())})")
    for i, label in enumerate(shown):
        mask = array == label
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=18, color=f"C{i}", alpha=0.85, label=f"{label} ({counts[label]})"
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if legend:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_title(title)
    return fig


def draw_reference(
    ax: Axes,
    value: float,
    label: str,
    *,
    spread: float | None = None,
    colour: str = "0.35",
    legend: bool = True,
) -> Figure:
    """A dashed horizontal line at ``value`` on an existing panel, with a shaded ±``spread`` band.

    Comparing a pruned or smaller model with the full one is the question of the E-PANNs chapters;
    the full model's score drawn as a line — and the evaluation set's noise as a band around it
    (e.g. two bootstrap standard deviations) — lets a reader see at once whether a curve or a point
    is below the reference by more than that noise. Draws on ``ax`` and returns its figure.
    """
    if not math.isfinite(value):
        raise ValueError(f"reference value must be finite, got {value}")
    if spread is not None and not (math.isfinite(spread) and spread >= 0):
        raise ValueError(f"spread must be a finite number ≥ 0, got {spread}")
    text = f"{label} {value:.3f}" + (f" ± {spread:.3f}" if spread else "")
    ax.axhline(value, color=colour, linestyle="--", linewidth=1.2, label=text)
    if spread:
        ax.axhspan(value - spread, value + spread, color=colour, alpha=0.15, linewidth=0)
    if legend:
        ax.legend(fontsize=8)
    return ax.figure


def plot_matrix(
    matrix: Any,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    vmax: float | None = None,
    colorbar: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """A 2-D array as an image (row 0 at the top) on a diverging colour scale centred on zero.

    Made for conv weights and their projections, where the sign carries meaning: zero is white and
    ±``vmax`` (default: the largest magnitude) are the ends of the scale, so several panels given
    the same ``vmax`` can be compared colour for colour. Torch tensors are accepted.
    """
    a = _as_array(matrix, "matrix", 2)
    if not np.isfinite(a).all():
        raise ValueError("matrix has non-finite values")
    limit = float(np.abs(a).max()) if vmax is None else float(vmax)
    if limit <= 0:
        limit = 1.0  # an all-zero matrix is drawn white rather than refused
    fig, ax = _axes(ax, (max(2.5, 0.25 * a.shape[1] + 1.5), max(2.0, min(6.0, 0.08 * a.shape[0] + 1.2))))
    image = ax.imshow(a, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # cells are indices: no ticks at 0.5
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if colorbar:
        fig.colorbar(image, ax=ax, pad=0.01)
    return fig


def plot_sorted_scores(
    scores: Mapping[str, Sequence[float]],
    *,
    cuts: Sequence[float] = (),
    ylabel: str = "score / largest score",
    log: bool = False,
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """Each criterion's per-filter scores, divided by their maximum and sorted from most to least important.

    The x axis is the fraction of the layer's filters ranked so far, so layers or criteria of any
    width share one axis. Pruning a fraction p keeps the filters left of 1 − p; ``cuts`` (the
    ratios p) are drawn there as dotted lines. A curve that drops steeply before the cut separates
    the filters it keeps from those it removes clearly; a flat one (random scores) does not.
    Scores must be non-negative (importances); with ``log`` zeros are left out.
    """
    if not scores:
        raise ValueError("scores is empty")
    fig, ax = _axes(ax, (6.5, 3.2))
    for i, (name, values) in enumerate(scores.items()):
        v = _as_array(values, f"scores[{name!r}]", 1)
        if (v < 0).any() or not np.isfinite(v).all():
            raise ValueError(f"scores[{name!r}] must be finite and non-negative")
        top = v.max()
        ranked = np.sort(v / top if top > 0 else v)[::-1]
        x = (np.arange(len(ranked)) + 0.5) / len(ranked)
        ax.plot(
            x,
            np.where(ranked > 0, ranked, np.nan) if log else ranked,
            color=f"C{i % 10}",
            linewidth=1.5,
            label=name,
        )
    for p in cuts:
        if not 0 < p < 1:
            raise ValueError(f"cuts are pruning ratios in (0, 1), got {p}")
        ax.axvline(1 - p, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(
            f"{p:.0%} removed",
            (1 - p, 0.5),
            xycoords=("data", "axes fraction"),
            xytext=(-2, 0),
            textcoords="offset points",
            fontsize=7,
            color="0.3",
            rotation=90,
            ha="right",
            va="center",
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    _finish(ax, "fraction of filters, most important first", ylabel, title)
    return fig


AGREEMENT: tuple[tuple[str, str], ...] = (
    ("kept by both", "C2"),
    ("kept by x only", "C0"),
    ("kept by y only", "C1"),
    ("removed by both", "0.6"),
)
"""Categories (and colours) of :func:`plot_score_agreement`, in drawing order."""


def plot_score_agreement(
    x: Sequence[float],
    y: Sequence[float],
    keep_x: Sequence[bool],
    keep_y: Sequence[bool],
    *,
    xlabel: str = "x",
    ylabel: str = "y",
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """One point per filter at its score (or rank) under two criteria, coloured by which of them keeps it.

    Two pruning criteria can rank filters differently and still keep mostly the same ones; the
    colours answer the question that matters for the pruned network (which filters survive), the
    positions the one a rank correlation summarises. The legend counts each category; "x" and "y"
    in the category names are replaced by ``xlabel`` and ``ylabel``.
    """
    xs, ys = _as_array(x, "x", 1), _as_array(y, "y", 1)
    kx, ky = np.asarray(keep_x, dtype=bool), np.asarray(keep_y, dtype=bool)
    if not len(xs) == len(ys) == len(kx) == len(ky):
        raise ValueError(
            f"x, y, keep_x and keep_y need one entry per filter; got {len(xs)}, {len(ys)}, "
            f"{len(kx)}, {len(ky)}"
        )
    fig, ax = _axes(ax, (4.8, 4.2))
    masks = (kx & ky, kx & ~ky, ~kx & ky, ~kx & ~ky)
    for (name, colour), mask in zip(AGREEMENT, masks):
        name = name.replace("by x", f"by {xlabel}").replace("by y", f"by {ylabel}")
        ax.scatter(xs[mask], ys[mask], s=16, color=colour, alpha=0.8, label=f"{name} ({int(mask.sum())})")
    _finish(ax, xlabel, ylabel, title, legend=7)
    return fig


def plot_metric_by_ratio(
    results: Mapping[str, Mapping[float, float]],
    *,
    reference: float | None = None,
    reference_label: str = "unpruned",
    spread: float | None = None,
    ylabel: str = "mAP",
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """A metric against the pruning ratio, one line per criterion (``{criterion: {ratio: value}}``).

    With ``reference`` the unpruned model's value is drawn across (:func:`draw_reference`, with a
    ±``spread`` noise band), so each point reads as a loss against the model it was cut from.
    The x axis is labelled in per cent of the filters removed.
    """
    if not results or any(not r for r in results.values()):
        raise ValueError("results needs at least one criterion, each with at least one ratio")
    fig, ax = _axes(ax, (6.0, 3.4))
    for i, (name, by_ratio) in enumerate(results.items()):
        ratios = sorted(by_ratio)
        if ratios[0] < 0 or ratios[-1] >= 1:
            raise ValueError(f"{name}: ratios must be in [0, 1), got {ratios}")
        ax.plot(ratios, [by_ratio[r] for r in ratios], marker="o", color=f"C{i % 10}", label=name)
    every = sorted({r for by_ratio in results.values() for r in by_ratio})
    ax.set_xticks(every, [f"{r:.0%}" for r in every])
    ax.set_xlabel("filters removed in each pruned layer")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if reference is not None:
        draw_reference(ax, reference, reference_label, spread=spread, legend=False)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig
