"""Windows: each region split by time and min-max scaled on its training part, stored as one
scaled series with a window index, and batches gathered from it on the fly.

A window is `lookback` consecutive hours of every feature (plus the lagged loads and the shifted
calendar that `InputSpec` describes); its label is the load of the next hour. Windows never cross
a gap that cleaning left open, lags included. Of each region's windows, in time order, the last
`test_fraction` are the test part (the study's split) and the last `val_fraction` of the rest are
the validation part. The scaler sees only rows of the training part.

Windows are never materialised: a batch is gathered from the resident scaled series by index,
on whichever device the series lives (the GPU when training there).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from loadforecast.config import WindowParams
from loadforecast.errors import LoadForecastError
from loadforecast.files import read_json, write_json
from loadforecast.scaling import LOAD_COLUMN, Scalers, fit_scaler, scale, unscale_load

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SERIES_FILE = "series.npy"
INDEX_FILE = "windows.parquet"
META_FILE = "meta.json"
NON_FEATURES = ("region", "timestamp")


@dataclass(frozen=True)
class InputSpec:
    """What a window feeds the network at each of its `lookback` hours.

    Always the scaled load of that hour. Then the calendar features of that hour, or with
    `future_calendar` of the hour after it (known in advance), so that the last step carries the
    calendar of the hour being forecast. Then, per lag in `lags`, the load `lag` hours before that
    next hour: with 168, the last step sees the load of the forecast hour a week earlier.

    The last `known + observed` features are covariates (`data.covariates`): a known one is
    read for the hour after each step, like the future calendar, so the last step carries its
    value for the hour being forecast; an observed one for the step's own hour only, so no input
    reads it past the latest reading.
    """

    lookback: int
    lags: tuple[int, ...] = ()
    future_calendar: bool = False
    min_history: int = 0
    known: int = 0
    observed: int = 0

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> InputSpec:
        """The spec as written to meta.json or a checkpoint (JSON has lists, not tuples)."""
        return cls(
            stored["lookback"],
            tuple(stored.get("lags", ())),
            stored.get("future_calendar", False),
            stored.get("min_history", 0),
            stored.get("known", 0),
            stored.get("observed", 0),
        )

    @classmethod
    def from_params(cls, params: WindowParams) -> InputSpec:
        return cls(params.lookback, tuple(params.lags), params.future_calendar, params.min_history)

    @property
    def reach(self) -> int:
        """Consecutive hours a forecast reads: the lookback, and the longest lag before it."""
        return self.lookback + max(self.lags, default=1) - 1

    @property
    def history(self) -> int:
        """Consecutive hours a label needs before it: what its inputs reach, or `min_history`."""
        return max(self.min_history, self.reach)

    def channels(self, features: list[str]) -> list[str]:
        return [*features, *(f"load_lag_{lag}" for lag in self.lags)]

    def columns(self, width: int) -> tuple[slice, slice, slice]:
        """The calendar, known and observed columns of a scaled series `width` features wide
        (the load is column 0)."""
        known_start = width - self.known - self.observed
        return (
            slice(LOAD_COLUMN + 1, known_start),
            slice(known_start, width - self.observed),
            slice(width - self.observed, width),
        )


@dataclass(frozen=True)
class Windows:
    series: np.ndarray  # (rows, features) float32, min-max scaled per region
    index: pd.DataFrame  # one row per window: region, label_row, label_time, split
    spec: InputSpec
    features: list[str]
    scalers: Scalers  # region -> per-feature training min and max

    def split(self, name: str) -> pd.DataFrame:
        return self.index[self.index["split"] == name]

    def unscale_load(self, scaled: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """Scaled loads of the given regions back to megawatts."""
        return unscale_load(scaled, regions, self.scalers)


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
    if not spec.lags and not spec.future_calendar and not spec.known:
        return series[steps], labels  # (B, L, F): the study's windows, one gather
    calendar, known, observed = spec.columns(series.shape[1])
    calendar_rows = steps + 1 if spec.future_calendar else steps
    parts = [series[steps, LOAD_COLUMN, None], series[calendar_rows, calendar]]
    if spec.known:
        parts.append(series[steps + 1, known])
    if spec.observed:
        parts.append(series[steps, observed])
    parts += [series[steps + 1 - lag, LOAD_COLUMN, None] for lag in spec.lags]
    return torch.cat(parts, dim=-1), labels


def horizon_lags(spec: InputSpec, horizons: int) -> np.ndarray:
    """(horizons, lags): how far back each lag channel reads for each hour ahead. Lag `L` of
    horizon `k` is the reading `L * ceil(k / L)` hours before the target: `L` itself while that
    is a reading at the origin (`k <= L`), else the same phase of the latest period before it
    (the load a day back, then two days back, ...), so no known input is a forecast."""
    ahead = np.arange(1, horizons + 1)[:, None]
    lags = np.asarray(spec.lags, dtype=np.int64)[None, :]
    return lags * -(-ahead // np.maximum(lags, 1))


def gather_horizons(
    series: torch.Tensor, origins: torch.Tensor, spec: InputSpec, horizons: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """What is known in advance of each hour ahead, (N, horizons, known channels), and the
    scaled targets (N, horizons), of forecasts made at `origins` (label rows: horizon 1 is the
    label itself, horizon `k` the row `k - 1` after it). The known channels of a target hour are
    its calendar, its known covariates, and the lagged loads of `horizon_lags`."""
    ahead = torch.arange(horizons, device=series.device)
    targets = origins[:, None] + ahead  # (N, H)
    calendar, known, _ = spec.columns(series.shape[1])
    parts = [series[targets, calendar], series[targets, known]]
    back = torch.as_tensor(horizon_lags(spec, horizons), device=series.device)  # (H, lags)
    if spec.lags:
        parts.append(series[targets[:, :, None] - back, LOAD_COLUMN])
    return torch.cat(parts, dim=-1), series[targets, LOAD_COLUMN]


def known_channels(spec: InputSpec, width: int) -> int:
    """Channels `gather_horizons` gives each hour ahead, of a series `width` features wide."""
    calendar, known, _ = spec.columns(width)
    return len(range(width)[calendar]) + len(range(width)[known]) + len(spec.lags)


def reaching_ahead(label_rows: np.ndarray, scored: np.ndarray, horizons: int) -> np.ndarray:
    """The `scored` labels whose next `horizons - 1` labels are scored too, in one unbroken
    stretch: origins whose every target is a label of the same split (`label_rows` sorted)."""
    if horizons == 1:
        return scored
    last = np.arange(len(label_rows)) + horizons - 1
    inside = last < len(label_rows)
    reach = np.zeros_like(scored)
    last = last[inside]
    reach[inside] = (label_rows[last] - label_rows[: len(last)] == horizons - 1) & scored[last]
    return scored & reach


def run_starts(continues: np.ndarray) -> np.ndarray:
    """For each position, where its run starts: a run goes on while `continues` is true."""
    position = np.arange(len(continues))
    return np.maximum.accumulate(np.where(continues, 0, position))


def chunk_ends(
    label_rows: np.ndarray, scored: np.ndarray, chunk_hours: int, scored_hours: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where a chunk of consecutive labels may end, and the phase of each end.

    `label_rows` are the windows' label rows in increasing order (every region, every split) and
    `scored` marks those of the split to learn or score. A chunk ending at label row `e` holds the
    labels `e - chunk_hours + 1 .. e`; it may end there when all of them are labels of one
    unbroken stretch of hours (so every input it reads is a window's input, no gap crossed) and
    its last `scored_hours` labels are all `scored` (so no loss reads a label of another split:
    the training part comes first in time, and validation chunks may only read training hours as
    their burn-in). The phase counts scored labels since the start of their stretch, so that
    chunks ending where `(phase + offset) % scored_hours == scored_hours - 1` tile each stretch.
    """
    position = np.arange(len(label_rows))
    consecutive = np.r_[False, np.diff(label_rows) == 1]
    in_stretch = position - run_starts(consecutive)
    phase = position - run_starts(consecutive & scored & np.r_[False, scored[:-1]])
    usable = scored & (in_stretch >= chunk_hours - 1) & (phase >= scored_hours - 1)
    return label_rows[usable], phase[usable]


def gather_chunks(
    series: torch.Tensor, end_rows: torch.Tensor, spec: InputSpec, chunk_hours: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, chunk_hours, channels) and labels (B, chunk_hours) of chunks ending at
    `end_rows`: hour `t` of a chunk holds the inputs of the window whose label is label `t`, so the
    network's output there forecasts that label."""
    inputs, _ = gather(series, end_rows, replace(spec, lookback=chunk_hours))
    rows = end_rows[:, None] + torch.arange(1 - chunk_hours, 1, device=series.device)
    return inputs, series[rows, LOAD_COLUMN]


def label_rows(timestamps: np.ndarray, history: int) -> np.ndarray:
    """Positions of rows preceded by `history` consecutive hours, i.e. rows that can be labels."""
    hours = timestamps.astype("datetime64[h]").astype(np.int64)
    position = np.arange(len(hours))
    starts_run = np.r_[True, np.diff(hours) != 1]
    run_start = np.maximum.accumulate(np.where(starts_run, position, 0))
    return np.flatnonzero(position - run_start >= history)


def split_codes(n_windows: int, test_fraction: float, val_fraction: float) -> np.ndarray:
    """Split of windows in time order: 0 train, 1 validation, 2 test (each at the end)."""
    n_test = int(test_fraction * n_windows)
    n_val = int(val_fraction * (n_windows - n_test))
    codes = np.zeros(n_windows, dtype=np.int8)
    codes[n_windows - n_test - n_val : n_windows - n_test] = 1
    codes[n_windows - n_test :] = 2
    return codes


def window_region(
    values: np.ndarray,
    timestamps: np.ndarray,
    params: WindowParams,
    test_from: pd.Timestamp | None = None,
):
    """Scale one region and index its windows; with `test_from`, every label from that time on
    is a test label (instead of the last `test_fraction`), and validation the last
    `val_fraction` of those before it.

    Returns the scaled float32 values, label rows, split codes and the fitted scaler, or None
    when the region has no training window.
    """
    labels = label_rows(timestamps, InputSpec.from_params(params).history)
    if test_from is None:
        codes = split_codes(len(labels), params.test_fraction, params.val_fraction)
    else:
        before = int((timestamps[labels] < np.datetime64(test_from)).sum())
        after = np.full(len(labels) - before, 2, dtype=np.int8)
        codes = np.r_[split_codes(before, 0.0, params.val_fraction), after]
    train_labels = labels[codes == 0]
    if len(train_labels) == 0:
        return None
    scaler = fit_scaler(values[: train_labels[-1] + 1])  # the training part only
    return scale(values, scaler), labels, codes, scaler


def build_windows(
    frame: pd.DataFrame,
    params: WindowParams,
    covariates: dict[str, str] | None = None,
    test_from: pd.Timestamp | None = None,
) -> tuple[Windows, dict[str, dict[str, int]]]:
    """Window every region of the features table; return the windows and their counts per region
    and split. `covariates` (column -> known or observed) are the table's covariates; every
    other column but the region and timestamp is the load or a calendar feature. With
    `test_from`, the test part is every label from that time on (`window_region`)."""
    covariates = covariates or {}
    known = [c for c, role in covariates.items() if role == "known"]
    observed = [c for c, role in covariates.items() if role == "observed"]
    absent = [c for c in covariates if c not in frame.columns]
    if absent:
        raise LoadForecastError(
            f"covariate(s) {absent} are not columns of the features table (its columns: "
            f"{list(frame.columns)})"
        )
    calendar = [c for c in frame.columns if c not in (*NON_FEATURES, "load_mw", *covariates)]
    features = ["load_mw", *calendar, *known, *observed]
    spec = replace(InputSpec.from_params(params), known=len(known), observed=len(observed))
    series_parts, index_parts, scalers, counts = [], [], {}, {}
    offset = 0
    for region, rows in frame.groupby("region", sort=False):
        rows = rows.sort_values("timestamp")
        stamps = rows["timestamp"].to_numpy()
        result = window_region(rows[features].to_numpy(np.float64), stamps, params, test_from)
        if result is None:
            raise LoadForecastError(
                f"series {region}: its {len(rows)} hourly rows give no training window: each "
                f"label needs {spec.history} consecutive hours before it (lookback, lags, "
                "min_history), and the test and validation parts come off the end; give it "
                "more history, or leave it out"
            )
        scaled, labels, codes, scalers[region] = result
        series_parts.append(scaled)
        index_parts.append(
            pd.DataFrame(
                {
                    "region": region,
                    "label_row": labels + offset,
                    "label_time": stamps[labels],
                    "split": np.asarray(SPLITS)[codes],
                }
            )
        )
        counts[region] = {s: int((codes == i).sum()) for i, s in enumerate(SPLITS)}
        offset += len(scaled)
    if not series_parts:
        raise LoadForecastError("no series to window: the features table is empty")
    windows = Windows(
        np.concatenate(series_parts),
        pd.concat(index_parts, ignore_index=True),
        spec,
        features,
        scalers,
    )
    return windows, counts
