import pytest
import torch
from torch import nn

from panns_lite.optimizer import panns_adam


def test_panns_adam_is_amsgrad_adam_without_decay():
    group = panns_adam(nn.Linear(3, 2), lr=1e-3).param_groups[0]
    assert (group["lr"], group["betas"], group["eps"]) == (1e-3, (0.9, 0.999), 1e-8)
    assert group["amsgrad"] and group["weight_decay"] == 0.0


def test_panns_adam_leaves_frozen_parameters_out():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    params = panns_adam(model, lr=1e-4).param_groups[0]["params"]
    assert {id(p) for p in params} == {id(p) for p in model[1].parameters()}


def test_panns_adam_refuses_a_fully_frozen_model():
    model = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        panns_adam(model, lr=1e-3)


def test_panns_adam_steps_like_torch_adam():
    torch.manual_seed(0)
    a = nn.Linear(4, 1)
    b = nn.Linear(4, 1)
    b.load_state_dict(a.state_dict())
    ours = panns_adam(a, lr=1e-2)
    theirs = torch.optim.Adam(b.parameters(), lr=1e-2, amsgrad=True)
    x = torch.randn(8, 4)
    for model, opt in ((a, ours), (b, theirs)):
        for _ in range(3):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    assert torch.equal(a.weight, b.weight)
