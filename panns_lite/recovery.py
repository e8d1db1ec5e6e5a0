"""Recovering a pruned CNN14 by fine-tuning, E-PANNs style (panns_facts §10.3).

E-PANNs prunes a trained CNN14 without data (:mod:`panns_lite.pruning`), then fine-tunes the
smaller network with the training recipe on the same data for a fraction of the original
iterations ("20–50 % of the effort"; §10.3). This module is that procedure on top of the trainer:

* :func:`pruned_checkpoint` prunes a trained model and saves it beside the run it came from
  (reused when present, so the book's chapters share it);
* :func:`recovery_config` is the base run's recipe started from that checkpoint, for fewer
  iterations, in its own run folder — its evaluation at iteration 0 is the mAP right after pruning;
* :func:`recover` trains it (or returns the cached run) with :func:`~panns_lite.train.trained`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from panns_lite.checkpoints import load_checkpoint, save_checkpoint
from panns_lite.pruning import epanns_ratios, parse_layers, prune
from panns_lite.train import TrainConfig, trained


def pruned_checkpoint(base_model: str | Path, ratio: float, criterion: str = "operator_norm",
                      layers: str | Iterable[str] = "C7-C12", seed: int = 0) -> Path:
    """``base_model`` with ``layers`` pruned by ``ratio`` (E-PANNs numbering), saved next to it.

    The file is ``<folder of base_model>/pruned-<criterion>-<layers>-<percent>.pt`` and records how
    it was made (source, ratios, criterion, seed); an existing file is returned as is, since the
    pruning is deterministic.
    """
    base_model = Path(base_model)
    names = parse_layers(layers)
    label = f"{names[0]}-{names[-1]}" if len(names) > 1 else names[0]
    path = base_model.parent / f"pruned-{criterion}-{label}-{round(100 * ratio)}.pt"
    if not path.is_file():
        ratios = epanns_ratios(ratio, names)
        model = prune(load_checkpoint(base_model), ratios, criterion, seed)
        save_checkpoint(model, path, source_checkpoint=str(base_model), ratios=ratios, criterion=criterion, seed=seed)
    return path


def recovery_config(base: TrainConfig, pruned: str | Path, iterations: int, eval_every: int | None = None) -> TrainConfig:
    """The recipe of ``base`` (same data, sampler, augmentation, optimizer, seed), started from the
    ``pruned`` checkpoint and run for ``iterations`` steps, in ``<base out_dir>-<pruned file stem>``."""
    if iterations < 1:
        raise ValueError(f"recovery needs at least one iteration, got {iterations}")
    pruned = Path(pruned)
    return replace(base, init_checkpoint=str(pruned), iterations=iterations,
                   eval_every=eval_every or base.eval_every, checkpoint_every=iterations,
                   out_dir=f"{base.out_dir}-{pruned.stem}")


def recover(base: TrainConfig, ratio: float, iterations: int, criterion: str = "operator_norm",
            layers: str | Iterable[str] = "C7-C12", eval_every: int | None = None) -> Path:
    """Prune the trained model of ``base`` and fine-tune it; returns the fine-tuned ``model.pt``.

    The base run is trained first if it is not in the cache. The run's ``statistics.json`` holds
    the recovery curve, starting with the mAP right after pruning (iteration 0).
    """
    pruned = pruned_checkpoint(trained(base), ratio, criterion, layers, base.seed)
    return trained(recovery_config(base, pruned, iterations, eval_every))
