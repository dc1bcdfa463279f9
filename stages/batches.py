"""The window artefacts written by the window stage, and batches gathered from them on the fly.

Windows are never materialised: a batch is gathered from the resident scaled series by index,
on whichever device the series lives (the GPU when training there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stages.files import read_json

SPLITS = ("train", "val", "test")
SERIES_FILE = "series.npy"
INDEX_FILE = "windows.parquet"
META_FILE = "meta.json"
LOAD_COLUMN = 0  # the window stage puts load_mw first among the features


@dataclass(frozen=True)
class Windows:
    series: np.ndarray  # (rows, features) float32, min-max scaled per region
    index: pd.DataFrame  # one row per window: region, label_row, label_time, split
    lookback: int
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


def load_windows(directory: Path) -> Windows:
    meta: dict[str, Any] = read_json(directory / META_FILE)
    return Windows(
        series=np.load(directory / SERIES_FILE),
        index=pd.read_parquet(directory / INDEX_FILE),
        lookback=meta["lookback"],
        features=meta["features"],
        scalers=meta["scalers"],
    )


def gather(
    series: torch.Tensor, label_rows: torch.Tensor, lookback: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, lookback, features) and scaled labels (B,) of windows ending at `label_rows`."""
    offsets = torch.arange(-lookback, 0, device=series.device)
    inputs = series[label_rows[:, None] + offsets]  # (B, L, F)
    labels = series[label_rows, LOAD_COLUMN]  # (B,)
    return inputs, labels
