"""The cleaning policy: one region's raw readings -> a regular hourly series, and a report.

Cleaning policy (deterministic; each step counted per region in the report):
1. Exact duplicate rows are dropped.
2. Readings sharing one timestamp are merged (`ingest.duplicates`, default mean). Timestamps are
   local wall-clock time (`loadforecast.hourly`), so the repeated autumn daylight-saving hour
   appears twice; merging keeps a regular 24-hour local day, which is what the calendar features
   and the same-hour-yesterday baseline assume.
   Readings more often than hourly become hourly means; an hour with fewer than half its
   readings is a gap (`loadforecast.hourly.hourly_means`).
3. Readings <= 0 MW, or outside [r, 1/r] times the median of the 7 hours centred on them
   (`ingest.outlier_ratio` = r), are flagged as implausible and removed.
4. Missing hours (the skipped spring hour, other gaps, removed readings) are filled by time
   interpolation when the gap is at most `ingest.max_fill_hours` long; longer gaps are left out,
   and the window stage never builds a window or label across them. Hours missing at either end
   of a series are trimmed.
Covariates (`data.covariates`) are merged and averaged to hours like the load. An hour is
missing when its load or any covariate is; gaps are filled or left out as above, for all of
them together, so that every hour kept has every value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loadforecast.config import IngestParams
from loadforecast.hourly import hourly_means, reading_minutes

NEIGHBOURHOOD_HOURS = 7


def clean_series(
    frame: pd.DataFrame, params: IngestParams, frequency: str = "auto"
) -> tuple[pd.Series, dict[str, int | str]]:
    """Apply the cleaning policy to one region's (timestamp, load_mw) readings, local time and
    `frequency` (`data.frequency`) apart; return the hourly series and what was done."""
    hourly, report = clean_readings(frame[["timestamp", "load_mw"]], params, frequency)
    return hourly["load_mw"], report


def clean_readings(
    frame: pd.DataFrame, params: IngestParams, frequency: str = "auto"
) -> tuple[pd.DataFrame, dict[str, int | str]]:
    """Apply the cleaning policy to one region's readings (timestamp, load_mw, then any
    covariates); return the hourly table (indexed by local hour) and what was done."""
    covariates = [c for c in frame.columns if c not in ("timestamp", "load_mw")]
    exact_duplicates = int(frame.duplicated().sum())
    frame = frame.drop_duplicates()
    shared_timestamps = int(frame["timestamp"].duplicated().sum())
    merged = frame.groupby("timestamp", sort=True)[["load_mw", *covariates]].agg(params.duplicates)
    step = reading_minutes(merged.index, frequency)
    merged, partial = hourly_means(merged, step)

    table = merged.asfreq("h")
    series = table["load_mw"]
    missing_hours = int(series.isna().sum())

    median = series.rolling(NEIGHBOURHOOD_HOURS, center=True, min_periods=3).median()
    ratio = series / median
    implausible = (
        (series <= 0) | (ratio < params.outlier_ratio) | (ratio > 1 / params.outlier_ratio)
    )
    table["load_mw"] = series.mask(implausible)
    covariate_gaps = table["load_mw"].notna() & table[covariates].isna().any(axis=1)

    gap = table.isna().any(axis=1)
    gap_id = (gap != gap.shift()).cumsum()
    gap_length = gap.groupby(gap_id).transform("size").where(gap, 0)
    fill = gap & (gap_length <= params.max_fill_hours)
    interpolated = table.interpolate(method="time", limit_area="inside")
    keep = np.broadcast_to(~fill.to_numpy()[:, None], table.shape)
    table = table.where(keep, interpolated)
    complete = table.notna().all(axis=1)
    filled = fill & complete
    left_out = gap & ~filled
    kept = table.index[complete]
    inside = (table.index > kept.min()) & (table.index < kept.max()) if len(kept) else gap & False
    table = table[complete]

    report = {
        "rows_raw": len(frame) + exact_duplicates,
        "exact_duplicate_rows": exact_duplicates,
        "duplicate_timestamps_merged": shared_timestamps,
        "reading_minutes": step,
        **partial,
        "missing_hours": missing_hours,
        **({"covariate_gaps": int(covariate_gaps.sum())} if covariates else {}),
        "implausible_readings": int(implausible.sum()),
        "hours_filled": int(filled.sum()),
        "gaps_filled": int(gap_id[filled].nunique()),
        "gaps_split": int(gap_id[left_out & inside].nunique()),  # interior gaps only
        "hours_left_out": int(left_out.sum()),  # in split gaps or trimmed from either end
        "rows_clean": len(table),
        "first_hour": str(table.index.min()),
        "last_hour": str(table.index.max()),
    }
    return table, report
