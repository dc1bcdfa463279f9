"""The window artefacts written by the window stage, and batches gathered from them on the fly.

Windows are never materialised: a batch is gathered from the resident scaled series by index,
on whichever device the series lives (the GPU when training there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stages.files import read_json, write_json

SPLITS = ("train", "val", "test")
SERIES_FILE = "series.npy"
INDEX_FILE = "windows.parquet"
META_FILE = "meta.json"
LOAD_COLUMN = 0  # the window stage puts load_mw first among the features


@dataclass(frozen=True)
class InputSpec:
    """What a window feeds the network at each of its `lookback` hours.

    Always the scaled load of that hour. Then the calendar features of that hour, or with
    `future_calendar` of the hour after it (known in advance), so that the last step carries the
    calendar of the hour being forecast. Then, per lag in `lags`, the load `lag` hours before that
    next hour: with 168, the last step sees the load of the forecast hour a week earlier.
    """

    lookback: int
    lags: tuple[int, ...] = ()
    future_calendar: bool = False
    min_history: int = 0

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> InputSpec:
        """The spec as written to meta.json or a checkpoint (JSON has lists, not tuples)."""
        return cls(
            stored["lookback"],
            tuple(stored.get("lags", ())),
            stored.get("future_calendar", False),
            stored.get("min_history", 0),
        )

    @property
    def history(self) -> int:
        """Consecutive hours a label needs before it: what its inputs reach, or `min_history`."""
        return max(self.min_history, self.lookback + max(self.lags, default=1) - 1)

    def channels(self, features: list[str]) -> list[str]:
        return [*features, *(f"load_lag_{lag}" for lag in self.lags)]


@dataclass(frozen=True)
class Windows:
    series: np.ndarray  # (rows, features) float32, min-max scaled per region
    index: pd.DataFrame  # one row per window: region, label_row, label_time, split
    spec: InputSpec
    features: list[str]
    scalers: dict[str, dict[str, list[float]]]  # region -> per-feature training min and max

    def split(self, name: str) -> pd.DataFrame:
        return self.index[self.index["split"] == name]

    def unscale_load(self, scaled: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """Scaled loads of the given regions back to megawatts."""
        low = pd.Series({r: s["min"][LOAD_COLUMN] for r, s in self.scalers.items()})
        high = pd.Series({r: s["max"][LOAD_COLUMN] for r, s in self.scalers.items()})
        low, high = low[regions].to_numpy(), high[regions].to_numpy()
        return low + np.asarray(scaled, dtype=np.float64) * (high - low)


def save_windows(windows: Windows, directory: Path) -> None:
    """Write the artefacts into `directory`, which must exist; `load_windows` reads them back."""
    np.save(directory / SERIES_FILE, windows.series)
    windows.index.to_parquet(directory / INDEX_FILE, index=False)
    meta = {**asdict(windows.spec), "features": windows.features, "scalers": windows.scalers}
    write_json(directory / META_FILE, meta)


def load_windows(directory: Path) -> Windows:
    meta: dict[str, Any] = read_json(directory / META_FILE)
    return Windows(
        series=np.load(directory / SERIES_FILE),
        index=pd.read_parquet(directory / INDEX_FILE),
        spec=InputSpec.from_dict(meta),
        features=meta["features"],
        scalers=meta["scalers"],
    )


def gather(
    series: torch.Tensor, label_rows: torch.Tensor, spec: InputSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, lookback, channels) and scaled labels (B,) of windows ending at `label_rows`."""
    steps = label_rows[:, None] + torch.arange(-spec.lookback, 0, device=series.device)  # (B, L)
    labels = series[label_rows, LOAD_COLUMN]  # (B,)
    if not spec.lags and not spec.future_calendar:
        return series[steps], labels  # (B, L, F): the study's windows, one gather
    calendar_rows = steps + 1 if spec.future_calendar else steps
    parts = [
        series[steps, LOAD_COLUMN, None],
        series[calendar_rows, LOAD_COLUMN + 1 :],
        *(series[steps + 1 - lag, LOAD_COLUMN, None] for lag in spec.lags),
    ]
    return torch.cat(parts, dim=-1), labels
