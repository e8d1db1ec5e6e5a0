"""The originals' published numbers, in one place, each with the bibtex key of its source.

The book sets numbers computed here beside the numbers PANNs and E-PANNs published; those published
numbers are typed exactly once, in this module, and every chapter reads them from it (the book's
reference appendix, ``book/reference.md``, tabulates the same values and says where each comes from).
Nothing here is computed: a value is what its source printed, or — where ``approximate`` is set — read
off one of its figures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Published(Mapping):
    """The numbers of one published table or figure, read as a mapping (``table[name]``), with the
    ``source`` (a bibtex key of ``book/references.bib``), ``where`` in that source, and whether they
    were read off a figure (``approximate``)."""

    numbers: Mapping[Any, float | int]
    source: str
    where: str
    approximate: bool = False

    def __getitem__(self, key: Any) -> float | int:
        return self.numbers[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.numbers)

    def __len__(self) -> int:
        return len(self.numbers)


AUDIOSET_MAP = Published(
    {"Cnn6": 0.343, "Cnn10": 0.380, "MobileNetV1": 0.389, "CNN14": 0.431},
    "kong2020panns",
    "AudioSet tagging results table; the released checkpoints carry the same mAPs in their names",
)
"""AudioSet evaluation mAP of the PANNs models this book builds."""

MULTI_ADDS_G = Published(
    {"Cnn6": 21.986, "Cnn10": 28.166, "MobileNetV1": 3.614, "CNN14": 42.220},
    "kong2020panns",
    "multi-adds per 10 s clip (two operations per multiply-accumulate)",
)
"""The paper's computation count of each model, in billions of multi-adds."""

CNN14_AUDIOSET = Published(
    {
        "training clips": 1_934_187,
        "evaluation clips": 18_887,
        "classes averaged": 527,
        "iterations": 600_000,
        "batch": 32,
        "mAP": 0.431,
        "mAUC": 0.973,
        "d′": 2.732,
    },
    "kong2020panns",
    "CNN14's AudioSet training set, evaluation set and scores",
)
"""CNN14 on AudioSet: data sizes of the authors' download, training length and scores."""

EPANNS_MAP = Published(
    {0.25: 0.442, 0.5: 0.440, 0.75: 0.420},
    "singh2023epannsrepo",
    "comparison figure of the repository: AudioSet mAP after fine-tuning, by share of C7–C12 filters removed",
)
"""E-PANNs' AudioSet mAP after pruning and fine-tuning, by the fraction of C7–C12 filters removed."""

EPANNS_MAP_AFTER_PRUNING = Published(
    {0.25: 0.39, 0.5: 0.37, 0.75: 0.22},
    "singh2023epannsrepo",
    "convergence figure of the repository, first point of each curve",
    approximate=True,
)
"""E-PANNs' mAP right after pruning, before fine-tuning (read off a figure)."""

EPANNS_FINETUNE_ITERATIONS = Published(
    {"iterations": 460_000},
    "singh2023epannsrepo",
    "convergence figure of the repository, last iteration",
    approximate=True,
)
"""How long E-PANNs fine-tuned the pruned CNN14 (read off a figure)."""

EPANNS_PARAMETER_SHARE = Published(
    {0.25: 0.57, 0.5: 0.30, 0.75: 0.22},
    "singh2023epannsrepo",
    "comparison figure of the repository: parameters as a share of CNN14's",
    approximate=True,
)
"""Each pruned model's parameters as a share of CNN14's (read off a figure)."""

EPANNS_REMOVED = Published(
    {
        (0.25, "params"): 0.41,
        (0.25, "MACs"): 0.24,
        (0.5, "params"): 0.70,
        (0.5, "MACs"): 0.36,
        (0.75, "params"): 0.78,
        (0.75, "MACs"): 0.46,
    },
    "singh2023epanns",
    "reductions of memory (parameters) and computations (MACs)",
)
"""The fractions of CNN14's parameters and MACs that pruning removed, by share of filters removed."""

V100_TRAINING = Published(
    {"seconds per 2,000 iterations": 3253},
    "kong2021repository",
    "training log of the README: one V100 GPU, data loading included",
)
"""How fast PANNs trained CNN14: wall time per 2,000 iterations in the authors' log."""

ALL = {name: value for name, value in globals().items() if isinstance(value, Published)}
"""Every published table of this module by name (the reference appendix lists them all)."""
