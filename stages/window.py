"""window: per region, split windows by time, fit min-max scaling on the training part, and store
the scaled series with a window index instead of materialised windows.

A window is `lookback` consecutive hours of every feature (plus the lagged loads and the shifted
calendar that `InputSpec` describes); its label is the load of the next hour. Windows never cross
a gap that ingest left open, lags included. Of each region's windows, in time order, the last
`test_fraction` are the test part (the study's split) and the last `val_fraction` of the rest are
the validation part. The scaler sees only rows of the training part.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from stages.batches import SPLITS, InputSpec, Windows, save_windows
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.params import WindowParams, load_params

log = logging.getLogger(__name__)

NON_FEATURES = ("region", "timestamp")


def input_spec(params: WindowParams) -> InputSpec:
    return InputSpec(params.lookback, params.lags, params.future_calendar, params.min_history)


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


def window_region(values: np.ndarray, timestamps: np.ndarray, params: WindowParams):
    """Scale one region and index its windows.

    Returns the scaled float32 values, label rows, split codes and the fitted scaler, or None
    when the region has no training window.
    """
    labels = label_rows(timestamps, input_spec(params).history)
    codes = split_codes(len(labels), params.test_fraction, params.val_fraction)
    train_labels = labels[codes == 0]
    if len(train_labels) == 0:
        return None
    scaler = MinMaxScaler().fit(values[: train_labels[-1] + 1])  # the training part only
    scaled = scaler.transform(values).astype(np.float32)
    return scaled, labels, codes, scaler


def build_windows(
    frame: pd.DataFrame, params: WindowParams
) -> tuple[Windows, dict[str, dict[str, int]]]:
    """Window every region of the features table; return the windows and their counts per region
    and split."""
    features = [c for c in frame.columns if c not in NON_FEATURES]
    series_parts, index_parts, scalers, counts = [], [], {}, {}
    offset = 0
    for region, rows in frame.groupby("region", sort=False):
        rows = rows.sort_values("timestamp")
        stamps = rows["timestamp"].to_numpy()
        result = window_region(rows[features].to_numpy(np.float64), stamps, params)
        if result is None:
            log.warning(
                "%s skipped: %d rows give no training window of %d hours",
                region,
                len(rows),
                input_spec(params).history,
            )
            continue
        scaled, labels, codes, scaler = result
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
        scalers[region] = {"min": scaler.data_min_.tolist(), "max": scaler.data_max_.tolist()}
        counts[region] = {s: int((codes == i).sum()) for i, s in enumerate(SPLITS)}
        offset += len(scaled)
    if not series_parts:
        raise PipelineError(
            f"no region has a training window of {input_spec(params).history} hours"
        )
    windows = Windows(
        np.concatenate(series_parts),
        pd.concat(index_parts, ignore_index=True),
        input_spec(params),
        features,
        scalers,
    )
    return windows, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, help="input Parquet from the features stage")
    parser.add_argument("windows", type=Path, help="output directory")
    parser.add_argument("counts", type=Path, help="output JSON: windows per region and split")
    args = parser.parse_args()
    params = load_params()
    windows, counts = build_windows(pd.read_parquet(args.features), params.window)
    with atomic_path(args.windows) as tmp:
        tmp.mkdir()
        save_windows(windows, tmp)
    totals = {s: sum(c[s] for c in counts.values()) for s in SPLITS}
    write_json(args.counts, {"total": totals, "regions": counts})
    log.info("%s windows over %d regions -> %s", totals, len(counts), args.windows)


if __name__ == "__main__":
    run_stage(main)
