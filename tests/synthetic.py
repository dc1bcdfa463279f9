"""Small load series made by the tests themselves, written in the raw files' format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loadforecast.config import FeaturesParams, IngestParams, TrainParams, WindowParams


def load_series(start: str, hours: int, seed: int = 0, base: float = 1000.0) -> pd.Series:
    """Hourly load with daily and weekly cycles and a little noise, indexed by local time."""
    index = pd.date_range(start, periods=hours, freq="h")
    t = np.arange(hours)
    rng = np.random.default_rng(seed)
    load = (
        base
        + 0.2 * base * np.sin(2 * np.pi * (t % 24) / 24)
        + 0.05 * base * np.sin(2 * np.pi * t / (24 * 7))
        + rng.normal(0, 0.01 * base, hours)
    )
    return pd.Series(load.round(1), index=index)


def raw_frame(region: str, series: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Datetime": series.index.strftime("%Y-%m-%d %H:%M:%S"),
            f"{region}_MW": series.to_numpy(),
        }
    )


def write_region_csv(directory: Path, region: str, series: pd.Series, seed: int = 0) -> Path:
    """Write `series` as <REGION>_hourly.csv, rows shuffled as in the real files."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = raw_frame(region, series).sample(frac=1.0, random_state=seed)
    path = directory / f"{region}_hourly.csv"
    frame.to_csv(path, index=False)
    return path


def regions_frame(
    regions: tuple[str, ...], hours: int, stagger: int = 0, grow: bool = False
) -> pd.DataFrame:
    """Several regions' hourly loads as the features table holds them (with the study's `hour`):
    region i has seed i, `hours + stagger * i` hours, and with `grow` a level of 1000 * (i + 1)."""
    frames = []
    for i, region in enumerate(regions):
        base = 1000.0 * (i + 1) if grow else 1000.0
        series = load_series("2018-01-01", hours + stagger * i, seed=i, base=base)
        frames.append(
            pd.DataFrame(
                {
                    "region": region,
                    "timestamp": series.index,
                    "load_mw": series.to_numpy(),
                    "hour": series.index.hour,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def window_params(
    lookback: int,
    test_fraction: float = 0.1,
    val_fraction: float = 0.0,
    lags: tuple[int, ...] = (),
    future_calendar: bool = False,
    min_history: int = 0,
) -> WindowParams:
    """The window section, by position as the study's tests read best; the rest as given."""
    return WindowParams(
        lookback=lookback,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        lags=list(lags),
        future_calendar=future_calendar,
        min_history=min_history,
    )


def calendar(cyclic: bool = True, holidays: str | None = "US", **more) -> FeaturesParams:
    """The features section: the cyclic encodings and a country's holidays, as given."""
    return FeaturesParams(
        cyclic=cyclic,
        holidays=holidays,
        holiday_subdivision=more.get("holiday_subdivision"),
        extra_holidays=more.get("extra_holidays", []),
        degree_hours=more.get("degree_hours", {}),
    )


def pjm_data(**settings):
    """The data section for PJM's files (`loadforecast.settings.DataParams`), with `settings`."""
    from loadforecast.data import PJM_READINGS
    from loadforecast.settings import DataParams

    return DataParams.model_validate({**PJM_READINGS.model_dump(), "path": None, **settings})


POLICY = IngestParams(duplicates="mean", max_fill_hours=3, outlier_ratio=0.5)


SMALL_TRAINING = TrainParams(
    objective="window",
    chunk_hours=48,
    burn_in_hours=6,
    hidden_size=8,
    num_layers=1,
    dropout=0.0,
    target="delta",
    loss="mse",
    lr=0.01,
    lr_schedule="cosine",
    weight_decay=0.0,
    grad_clip=1.0,
    batch_size=32,
    epochs=3,
    min_steps=0,
    patience=0,
    max_labels_per_epoch=0,
    precision="fp32",
    device="cpu",
    processes=1,
    parallel_seeds=False,
)


def readings(regions: tuple[str, ...] = ("AAA", "BBB")) -> pd.DataFrame:
    """Regions' cleaned hourly loads (45 days into a Christmas), as ingest stores them (float32)."""
    frames = []
    for i, region in enumerate(regions):
        series = load_series("2018-11-12", 24 * 45, seed=i, base=1000.0 * (i + 1))
        frames.append(
            pd.DataFrame(
                {
                    "region": region,
                    "timestamp": series.index,
                    "load_mw": series.to_numpy(np.float32),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
