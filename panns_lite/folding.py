"""Batch-norm folding for deployment: each conv → BN pair of the conv blocks becomes one conv with a bias.

In eval mode a BatchNorm2d is a fixed per-channel affine map, y = γ·(x − μ)/√(σ² + ε) + β, so
after a conv it can be merged into the conv: W' = W·s and b' = β − μ·s (+ b·s) with
s = γ/√(σ² + ε). The folded network computes the same function with one fewer pass over every
feature map (reference §2: 12 BNs in CNN14, each after a bias-free conv).

``bn0`` is left as it is: it normalises each *mel bin* before C1 (reference §2), i.e. its
scale depends on the frequency row. C1 slides one kernel over all rows and zero-pads the borders,
so a per-row scale cannot be moved into its weights exactly; bn0 stays a cheap element-wise op.
"""

import copy

import torch
from torch import nn

from panns_lite.models import AudioTagger, ConvBlock


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new Conv2d (with bias) equal to ``bn(conv(x))`` in eval mode; computed in float64, then cast back."""
    if not bn.track_running_stats or bn.running_var is None:
        raise ValueError(
            "cannot fold a BatchNorm2d without running statistics (it normalises with batch statistics)"
        )
    if bn.num_features != conv.out_channels:
        raise ValueError(f"BN has {bn.num_features} channels, the conv {conv.out_channels} outputs")
    weight = conv.weight.detach().to(torch.float64)
    mean, var = bn.running_mean.to(torch.float64), bn.running_var.to(torch.float64)
    gamma = bn.weight.detach().to(torch.float64) if bn.affine else torch.ones_like(mean)
    beta = bn.bias.detach().to(torch.float64) if bn.affine else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    bias = beta - mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias.detach().to(torch.float64) * scale
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        folded.weight.copy_(weight * scale.view(-1, 1, 1, 1))
        folded.bias.copy_(bias)
    return folded


def fold_batchnorm(model: AudioTagger) -> AudioTagger:
    """An eval-mode copy of ``model`` with every ConvBlock's BNs folded into its convs (``model`` unchanged).

    Works for any tagger built from :class:`~panns_lite.models.ConvBlock` (Cnn14 at any width,
    pruned or not, Cnn10, Cnn6); a BN already replaced by ``Identity`` is skipped, so folding twice
    is harmless. The result is a plain ``nn.Module`` for inference and export only: training it
    would no longer normalise, and its state dict (conv biases, no block BNs) no longer matches
    what ``save_checkpoint`` / ``load_checkpoint`` rebuild from the architecture, so keep the
    unfolded model as the checkpoint.
    """
    blocks = [module for module in model.modules() if isinstance(module, ConvBlock)]
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no ConvBlock whose batch norms could be folded")
    folded = copy.deepcopy(model).eval()
    for block in (module for module in folded.modules() if isinstance(module, ConvBlock)):
        for j in range(1, block.num_convs + 1):
            bn = getattr(block, f"bn{j}")
            if isinstance(bn, nn.BatchNorm2d):
                setattr(block, f"conv{j}", fold_conv_bn(getattr(block, f"conv{j}"), bn))
                setattr(block, f"bn{j}", nn.Identity())
    return folded
