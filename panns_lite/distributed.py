"""Which process this is in a ``torchrun`` group, and on which device it computes.

Training is written once for one process and for a group: the sampler, the micro-batch split, the
evaluation and the file writes read a :class:`Distributed` (rank, world size, device), and one
process is simply rank 0 of a group of one. Only the training loop needs it; scoring a model
(:func:`panns_lite.evaluation.predict`) takes a rank and world size of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """This process's place in the group: rank ``rank`` of ``world_size``, computing on ``device``."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and shows progress."""
        return self.rank == 0


def setup_distributed(device: str) -> Distributed:
    """One process, or a ``torchrun`` group (NCCL on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if world_size == 1:
        return Distributed(device=torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(dist.get_rank(), world_size, torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"))
