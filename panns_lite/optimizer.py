"""PANNs' optimiser, built in one place for every loop that trains weights (pretraining, recovery,
transfer).

PANNs trains with Adam at betas (0.9, 0.999), eps 1e-8, no weight decay and amsgrad on
(reference §6); its transfer recipe keeps the same optimiser at a smaller rate (reference §9).
Frozen parameters (``requires_grad`` False) are left out, so a frozen base carries no optimiser state.
"""

import torch
from torch import nn


def panns_adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam as PANNs configures it, over the trainable parameters of ``model``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (every one is frozen)")
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True)
