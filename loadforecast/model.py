"""One recurrent forecaster for both cells: the study's GRU and LSTM differ only in `cell`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from loadforecast.errors import LoadForecastError
from loadforecast.gru import gru_forward
from loadforecast.windows import InputSpec, gather

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
# Train the GRU on the CPU with `loadforecast.gru` (False: `nn.GRU`'s own backward pass, the path
# before it, kept for `benchmarks.epochs`).
FAST_CPU_GRU = True


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
            raise LoadForecastError(
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
    """Stacked GRU/LSTM, then ReLU and a linear head on the hidden state of every hour.

    The network forecasts the next hour at every hour of its input: the window objective and
    evaluation take the last hour's forecast (`next_hour`), the every-hour objective scores them
    all. Each sequence starts from a zero state: sequences are shuffled, so no state is carried
    between batches (the study carried it, which leaks one window's state into an unrelated one).
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

    def forward(self, inputs: torch.Tensor, last_hour: bool = False) -> torch.Tensor:
        """(B, L, input_size) hours -> (B, L): at each hour, the forecast of the next hour's
        scaled load; with `last_hour`, (B,): only the last hour's, with the head applied to that
        hour only. Channel 0 of the inputs is the scaled load (`loadforecast.windows.gather`)."""
        if self._cpu_gru_training(inputs):
            outputs = gru_forward(self.rnn, inputs)  # nn.GRU's figures, a faster backward
        else:
            outputs, _ = self.rnn(inputs)  # (B, L, H)
        if last_hour:
            return self._forecast(outputs[:, -1], inputs[:, -1])
        return self._forecast(outputs, inputs)

    def _cpu_gru_training(self, inputs: torch.Tensor) -> bool:
        """Whether `loadforecast.gru` can stand in for `nn.GRU`: a gradient to compute, in fp32
        on the CPU, without dropout between layers (cuDNN is faster on CUDA)."""
        return (
            FAST_CPU_GRU
            and self.config.cell == "gru"
            and inputs.device.type == "cpu"
            and inputs.dtype == torch.float32
            and torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and not (self.training and self.rnn.dropout)
        )

    def next_hour(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, L, input_size) windows -> (B,): the forecast of the hour after each window."""
        return self(windows, last_hour=True)

    def step(
        self, inputs: torch.Tensor, state: torch.Tensor | tuple | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | tuple]:
        """(B, L, input_size) hours after `state` (None: a zero state) -> the forecast of the
        hour after the last (B,), and the state there, to carry on from one hour at a time."""
        outputs, state = self.rnn(inputs, state)
        return self._forecast(outputs[:, -1], inputs[:, -1]), state

    def _forecast(self, hidden: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        forecast = self.head(torch.relu(hidden)).squeeze(-1)
        if self.config.target == "delta":
            forecast = forecast + inputs[..., 0]
        return forecast


@torch.inference_mode()
def predict(
    model: RNNForecaster,
    series: torch.Tensor,
    rows: torch.Tensor,
    spec: InputSpec,
    batch: int,
    precision: str = "fp32",
) -> np.ndarray:
    """Scaled forecasts for the windows ending at `rows`, in large batches."""
    parts = []
    for chunk in rows.split(batch):
        with autocast(series.device, precision):
            parts.append(model.next_hour(gather(series, chunk, spec)[0]).float())
    return torch.cat(parts).cpu().numpy()
