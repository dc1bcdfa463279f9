"""`loadforecast.gru`: torch's GRU with a faster CPU backward pass gives nn.GRU's outputs and
gradients, and training on the CPU goes through it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from loadforecast import model as model_module
from loadforecast.gru import gru_forward
from loadforecast.model import ModelConfig, RNNForecaster


def gradients(
    rnn: nn.GRU, inputs: torch.Tensor, forward
) -> tuple[torch.Tensor, list, torch.Tensor]:
    rnn.zero_grad()
    inputs = inputs.clone().requires_grad_(True)
    outputs = forward(inputs)
    weights = torch.linspace(-1, 1, outputs.numel()).view_as(outputs)  # every output counts
    (outputs * weights).sum().backward()
    return outputs.detach(), [p.grad.clone() for p in rnn.parameters()], inputs.grad


@pytest.mark.parametrize("num_layers", [1, 2])
# batch 0: a process's share of a last batch smaller than its group (train.processes)
@pytest.mark.parametrize(("batch", "hours"), [(0, 4), (1, 1), (5, 17)])
def test_outputs_and_gradients_equal_torchs(num_layers, batch, hours) -> None:
    torch.manual_seed(num_layers + hours)
    rnn = nn.GRU(3, 6, num_layers, batch_first=True)
    inputs = torch.randn(batch, hours, 3)
    ours = gradients(rnn, inputs, lambda x: gru_forward(rnn, x))
    theirs = gradients(rnn, inputs, lambda x: rnn(x)[0])
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    for (name, _), mine, torchs in zip(rnn.named_parameters(), ours[1], theirs[1], strict=True):
        torch.testing.assert_close(mine, torchs, rtol=1e-4, atol=1e-6, msg=name)
    torch.testing.assert_close(ours[2], theirs[2], rtol=1e-4, atol=1e-6)


def test_cpu_training_goes_through_it_and_evaluation_through_torchs(monkeypatch) -> None:
    calls = []
    real = model_module.gru_forward
    monkeypatch.setattr(model_module, "gru_forward", lambda *a: calls.append(1) or real(*a))
    gru = RNNForecaster(
        ModelConfig("gru", input_size=3, hidden_size=4, dropout=0.0, target="delta")
    )
    inputs = torch.randn(2, 9, 3)
    gru.train()(inputs).sum().backward()
    assert calls == [1]
    with torch.no_grad():
        gru(inputs)  # no gradient: torch's own kernel
    assert calls == [1]
