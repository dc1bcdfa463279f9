"""One recurrent forecaster for both cells: the study's GRU and LSTM differ only in `cell`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stages.errors import PipelineError

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def select_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU; a named device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PipelineError(
            f"params.yaml: train.device = {name!r}, but no CUDA device is available"
        )
    return device


@dataclass(frozen=True)
class ModelConfig:
    cell: str  # "gru" or "lstm"
    input_size: int
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    # "level": the head outputs the next hour's load (the study). "delta": it outputs the change
    # from the last observed hour, added back here, so a zero head is the persistence forecast.
    target: str = "level"


class RNNForecaster(nn.Module):
    """Stacked GRU/LSTM over the window, then ReLU and a linear head on the last hidden state.

    Each window starts from a zero state: windows are shuffled, so no state is carried between
    batches (the study carried it, which leaks one window's state into an unrelated one).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.cell not in CELLS:
            raise ValueError(f"unknown cell {config.cell!r}; expected one of {sorted(CELLS)}")
        if config.target not in ("level", "delta"):
            raise ValueError(f"unknown target {config.target!r}; expected level or delta")
        self.config = config
        self.rnn = CELLS[config.cell](
            input_size=config.input_size,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, L, input_size) windows -> (B,) forecasts of the next hour's scaled load.

        Channel 0 of the windows is the scaled load (see `stages.batches.gather`).
        """
        outputs, _ = self.rnn(windows)  # (B, L, H)
        forecast = self.head(torch.relu(outputs[:, -1])).squeeze(-1)  # (B,)
        if self.config.target == "delta":
            forecast = forecast + windows[:, -1, 0]
        return forecast
