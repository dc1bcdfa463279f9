"""One recurrent forecaster for both cells: the study's GRU and LSTM differ only in `cell`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stages.errors import PipelineError

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def select_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU; a named device must exist.

    On CUDA, float32 matmuls and the cuDNN GRU/LSTM kernels may use TF32 tensor cores: a 10-bit
    mantissa (about 0.1% relative error per product), well below forecast errors of 1-3% sMAPE.
    """
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name
    )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise PipelineError(
                f"params.yaml: train.device = {name!r}, but no CUDA device is available"
            )
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        torch.backends.cudnn.rnn.fp32_precision = "tf32"
    return device


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast for `precision: bf16`; weights, optimizer state and the loss stay fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


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
