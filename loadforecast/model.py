"""One recurrent forecaster for both cells: the study's GRU and LSTM differ only in `cell`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from loadforecast.errors import LoadForecastError
from loadforecast.gru import gru_forward
from loadforecast.quantiles import POINT, median_index, quantile_name

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
            raise LoadForecastError(
                f"device {name!r}: no CUDA device is available (auto picks the CPU then)"
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
    # The multi-horizon decoder (`QuantileDecoder`): hours ahead and quantiles forecast from each
    # hour's state, and what it knows of each hour ahead; horizons = 1 and no quantiles: the
    # one-hour head.
    horizons: int = 1
    quantiles: tuple[float, ...] = ()
    known_size: int = 0  # channels per hour ahead (`loadforecast.windows.gather_horizons`)
    context_size: int = 16
    decoder_size: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(self.quantiles))  # JSON gives lists

    @property
    def multi_horizon(self) -> bool:
        return self.horizons > 1 or bool(self.quantiles)

    @property
    def levels(self) -> tuple[float, ...]:
        """The levels a forecast gives: the decoder's quantiles, or the head's point (0.5)."""
        return self.quantiles or POINT

    @property
    def quantile_names(self) -> list[str]:
        """The columns of the quantiles in a forecast: p10, p50, p90 (p2.5 for 0.025)."""
        return [quantile_name(q) for q in self.quantiles]

    @property
    def median(self) -> int:
        """Index of the level that is the point forecast."""
        return median_index(self.levels)


class QuantileDecoder(nn.Module):
    """MQ-RNN's decoder (Wen et al. 2017, "A Multi-Horizon Quantile Recurrent Forecaster").

    A global MLP reads the encoder's state at the origin and gives one context per horizon and
    one for all of them; a local MLP, shared by the horizons, reads a horizon's context, the
    shared one and what is known in advance of that hour (its calendar, known covariates and
    lagged loads), and gives its quantiles. With a "delta" target they are changes from the
    latest load. MQ-RNN's global MLP also reads every hour's known inputs; here it does not, so
    that an hour's forecast depends only on the past and that hour's own inputs (the first `k`
    hours are forecast without the later ones', and the forecast of the last hour of a series
    needs no hours past it), and the step costs a third less (docs/how-it-works.md).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.horizons, self.context_size = config.horizons, config.context_size
        self.global_mlp = nn.Sequential(
            nn.Linear(config.hidden_size, (config.horizons + 1) * config.context_size), nn.ReLU()
        )
        self.local_mlp = nn.Sequential(
            nn.Linear(2 * config.context_size + config.known_size, config.decoder_size),
            nn.ReLU(),
            nn.Linear(config.decoder_size, max(len(config.quantiles), 1)),
        )

    def forward(self, state: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """State (N, hidden) and the known inputs of the first k <= H hours ahead
        (N, k, known_size) -> their quantiles (N, k, quantiles)."""
        hours = known.shape[1]
        contexts = self.global_mlp(torch.relu(state))
        contexts = contexts.view(len(state), self.horizons + 1, self.context_size)
        shared = contexts[:, -1:].expand(-1, hours, -1)
        return self.local_mlp(torch.cat([contexts[:, :hours], shared, known], dim=-1))


class RNNForecaster(nn.Module):
    """Stacked GRU/LSTM, then ReLU and a linear head on the hidden state of every hour.

    The network forecasts the next hour at every hour of its input: the window objective scores
    the last hour's, the multi-horizon objective every hour's beside the decoder's quantiles.
    Each sequence starts from a zero state: sequences are shuffled, so no state is carried
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
        self.decoder = QuantileDecoder(config) if config.multi_horizon else None

    def forward(
        self,
        inputs: torch.Tensor,
        positions: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, L, input_size) hours -> (B, L): at each hour, the forecast of the next hour's
        scaled load. Channel 0 of the inputs is the scaled load (`loadforecast.windows.gather`).
        With `positions` (P,) of the hours and `known` (B, P, horizons, known_size), also the
        decoder's quantiles (B, P, horizons, quantiles) of the hours ahead of each position:
        ((B, L), (B, P, horizons, quantiles)), from one pass of the recurrent layers."""
        outputs = self.encode(inputs)  # (B, L, H)
        if positions is not None:
            batch, count, hours = len(inputs), len(positions), known.shape[2]
            quantiles = self.decode(  # every position's origin at once (none, in an empty share)
                outputs[:, positions].reshape(batch * count, outputs.shape[-1]),
                known.reshape(batch * count, *known.shape[2:]),
                inputs[:, positions, 0].reshape(batch * count),
            )
            quantiles = quantiles.view(batch, count, hours, len(self.config.quantiles))
            return self.head_forecast(outputs, inputs), quantiles
        return self.head_forecast(outputs, inputs)

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, L, input_size) hours -> the state after each, (B, L, hidden), from a zero state."""
        if self._cpu_gru_training(inputs):
            return gru_forward(self.rnn, inputs)
        return self.rnn(inputs)[0]

    def decode(
        self, state: torch.Tensor, known: torch.Tensor, latest_load: torch.Tensor
    ) -> torch.Tensor:
        """The decoder's quantiles (N, k, Q) of the first k hours ahead, from the state
        (N, hidden) at the origin, their known inputs (N, k, known_size) and the scaled latest
        load (N,)."""
        quantiles = self.decoder(state, known)
        if self.config.target == "delta":
            quantiles = quantiles + latest_load[:, None, None]
        return quantiles

    def _cpu_gru_training(self, inputs: torch.Tensor) -> bool:
        """Whether `loadforecast.gru` can stand in for `nn.GRU`: a gradient to compute, in fp32
        on the CPU, without dropout between layers (cuDNN is faster on CUDA)."""
        return (
            self.config.cell == "gru"
            and inputs.device.type == "cpu"
            and inputs.dtype == torch.float32
            and torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and not (self.training and self.rnn.dropout)
        )

    def head_forecast(self, hidden: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The one-hour head on the states after `inputs`: each next hour's scaled load."""
        forecast = self.head(torch.relu(hidden)).squeeze(-1)
        if self.config.target == "delta":
            forecast = forecast + inputs[..., 0]
        return forecast
