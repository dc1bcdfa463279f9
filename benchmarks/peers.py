"""The libraries a user would pick instead of this pipeline, on exactly its day-ahead origins:
issued at 23:00 for the next 24 hours and at 10:00 for the next calendar day (hours 15-38
ahead): the origins of `evaluate`'s two day-ahead tables (`loadforecast.dayahead.ISSUES`).

    python3 -m venv .venv-peers && .venv-peers/bin/pip install torch==2.13.0 -e '.[peers]'
    .venv-peers/bin/python -m benchmarks.peers --windows data/windows --models data/models/*.pt

(An environment of its own: mlforecast and statsforecast require pandas < 3.)

Each peer gets the loads in megawatts with their timestamps, as a user would hand them over: it
is fitted once on the training part of every region (no validation or test load), then
forecasts 38 hours from every origin, reading the four weeks before it. statsforecast fits
its local models (SeasonalNaive, MSTL) on those four weeks. SeasonalNaive(24) must equal the
pipeline's same hour on the latest day before the origin: the run stops if it does not, since
that is the check that the peers' origins and the pipeline's line up. The 23:00 issue scores
hours 1-24 of the 38. With `--models`, the pipeline's forecasters run on the same origins as
`evaluate` runs them (`loadforecast.dayahead.issue_forecasts`): each seed and the seeds'
averaged forecast, a cell's figure being the mean of its seeds'.

With `--split val` it runs on the validation part's origins instead, to tune the peers'
settings (never on test figures). The result file holds the settings, the versions, the seconds
and, per issue time, sMAPE by horizon and per region, and for the peers that forecast
quantiles the pinball loss, the P10-P90 coverage and width.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.epochs import cpu_flags
from loadforecast.dayahead import ISSUES, Issue, issue_forecasts, issue_origins
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import write_json
from loadforecast.forecaster import Forecaster
from loadforecast.metrics import quantile_scores, seed_column, smape
from loadforecast.quantiles import POINT, quantile_name, to_megawatts
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import Windows, load_windows

RESULTS = Path(__file__).parent / "results"
HORIZON = 38  # every peer forecasts this far: 10:00 to the end of the next day
CONTEXT_HOURS = 4 * 168  # what each peer reads before an origin
QUANTILES = (0.1, 0.5, 0.9)


# A peer's forecasts in megawatts, (origins, HORIZON) each: "p50" (its point forecast) and, for
# the probabilistic peers, "p10" and "p90".
Quantiles = dict[str, np.ndarray]


def region_hours(windows: Windows) -> pd.DataFrame:
    """Every region's loads in megawatts as the peers take them: unique_id (the region), ds
    (the hour), y, and the series row they come from."""
    frames = []
    for region, labels in windows.index.groupby("region", sort=False):
        labels = labels.sort_values("label_row")
        first, last = labels["label_row"].iloc[0], labels["label_row"].iloc[-1]
        offsets = labels["label_row"].to_numpy() - first
        if (offsets != np.arange(len(labels))).any():
            raise LoadForecastError(
                f"region {region}: its windows are not one unbroken stretch of hours, and the "
                "peers take a regular series"
            )
        rows = np.arange(first - windows.spec.history, last + 1)
        start = labels["label_time"].iloc[0] - pd.Timedelta(hours=windows.spec.history)
        loads = windows.series[rows, LOAD_COLUMN]
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": region,
                    "ds": pd.date_range(start, periods=len(rows), freq="h"),
                    "y": windows.unscale_load(loads, np.full(len(rows), region)),
                    "row": rows,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def training_part(hours: pd.DataFrame, windows: Windows) -> pd.DataFrame:
    """Each region's hours up to its last training label."""
    last_train = windows.split("train").groupby("region")["label_row"].max()
    return hours[hours["row"] <= hours["unique_id"].map(last_train)].drop(columns="row")


def contexts(hours: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """The CONTEXT_HOURS before each origin, as a series of its own named `<region>/<row>`."""
    by_row = hours.set_index("row")
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(-CONTEXT_HOURS, 0)
    frame = by_row.loc[rows.ravel(), ["ds", "y"]].reset_index(drop=True)
    frame.insert(0, "unique_id", np.repeat(origin_ids(origins), CONTEXT_HOURS))
    return frame


def origin_ids(origins: pd.DataFrame) -> np.ndarray:
    return (origins["region"] + "/" + origins["label_row"].astype(str)).to_numpy()


def as_matrix(forecasts: pd.DataFrame, column: str, origins: pd.DataFrame) -> np.ndarray:
    """A peer's long output (unique_id, ds, column) as (origins, HORIZON), in the origins' order."""
    ordered = forecasts.sort_values(["unique_id", "ds"]).set_index("unique_id")[column]
    wide = ordered.to_numpy().reshape(-1, HORIZON)
    position = pd.Index(ordered.index[::HORIZON]).get_indexer(origin_ids(origins))
    if (position < 0).any():
        raise LoadForecastError(f"a peer returned no forecast for some origins ({column})")
    return wide[position]


def statsforecast_peers(train: pd.DataFrame, settings: dict) -> Callable:
    """SeasonalNaive(24), the alignment check, and MSTL with daily and weekly seasons and its
    default AutoETS trend (its documentation's model for hourly electricity load), fitted on
    each origin's context; MSTL's 80% interval is its P10-P90."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, SeasonalNaive

    def forecast(context: pd.DataFrame, origins: pd.DataFrame) -> dict[str, Quantiles]:
        mstl_hours = settings["mstl_weeks"] * 168
        recent = context.groupby("unique_id", sort=False).tail(mstl_hours)
        models = [SeasonalNaive(season_length=24), MSTL(season_length=[24, 168])]
        engine = StatsForecast(models=models, freq="h", n_jobs=os.cpu_count() or 1)
        out = engine.forecast(df=recent, h=HORIZON, level=[80])
        return {
            "statsforecast_seasonal_naive_24": {"p50": as_matrix(out, "SeasonalNaive", origins)},
            "statsforecast_mstl": {
                "p50": as_matrix(out, "MSTL", origins),
                "p10": as_matrix(out, "MSTL-lo-80", origins),
                "p90": as_matrix(out, "MSTL-hi-80", origins),
            },
        }

    return forecast


def mlforecast_peers(train: pd.DataFrame, settings: dict) -> Callable:
    """LightGBM through mlforecast, one global model of all regions (a static region feature)
    as its documentation sets it up for hourly series: lags of 1-24 hours, a day and a week,
    rolling means, the hour, weekday and month, and the target differenced from a day before.
    Recursive (one model fed its own forecasts) and direct (one model per horizon)."""
    import lightgbm
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import Differences

    regions = sorted(train["unique_id"].unique())

    def with_region(frame: pd.DataFrame) -> pd.DataFrame:
        region = frame["unique_id"].str.split("/").str[0]
        return frame.assign(region=pd.Categorical(region, categories=regions))

    def engine(estimators: int) -> MLForecast:
        model = lightgbm.LGBMRegressor(
            n_estimators=estimators,
            learning_rate=settings["lgbm_learning_rate"],
            num_leaves=settings["lgbm_leaves"],
            verbosity=-1,
            random_state=0,
        )
        return MLForecast(
            models={"lightgbm": model},
            freq="h",
            lags=[*range(1, 25), 48, 168],
            lag_transforms={1: [RollingMean(window_size=24)], 24: [RollingMean(window_size=168)]},
            date_features=["hour", "dayofweek", "month"],
            target_transforms=[Differences([24])],
        )

    train = with_region(train)
    started = time.perf_counter()
    recursive = engine(settings["lgbm_estimators"]).fit(train, static_features=["region"])
    direct = engine(settings["lgbm_direct_estimators"]).fit(
        train, static_features=["region"], max_horizon=HORIZON
    )
    log.info("mlforecast fitted in %.0f s", time.perf_counter() - started)

    def forecast(context: pd.DataFrame, origins: pd.DataFrame) -> dict[str, Quantiles]:
        context = with_region(context)
        return {
            f"mlforecast_lightgbm_{name}": {
                "p50": as_matrix(fitted.predict(HORIZON, new_df=context), "lightgbm", origins)
            }
            for name, fitted in (("recursive", recursive), ("direct", direct))
        }

    return forecast


def neuralforecast_peers(train: pd.DataFrame, settings: dict) -> Callable:
    """neuralforecast's NHITS, LSTM and GRU forecasting all 38 hours at once, trained with its
    multi-quantile loss (P10, median, P90) on windows of a week, each window scaled on its own
    ("robust", the scaler its documentation uses for load)."""
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import GRU, LSTM, NHITS

    common = {
        "h": HORIZON,
        "input_size": 168,
        "loss": MQLoss(quantiles=list(QUANTILES)),
        "scaler_type": "robust",
        "max_steps": settings["neural_steps"],
        "random_seed": 1,
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "logger": False,
        "enable_model_summary": False,
    }
    recurrent = {"encoder_hidden_size": 128, "encoder_n_layers": 2}
    models = [NHITS(**common), LSTM(**common, **recurrent), GRU(**common, **recurrent)]
    engine = NeuralForecast(models=models, freq="h")
    engine.fit(df=train)

    def forecast(context: pd.DataFrame, origins: pd.DataFrame) -> dict[str, Quantiles]:
        out = engine.predict(df=context)
        return {
            f"neuralforecast_{name.lower()}": {
                "p50": as_matrix(out, f"{name}-median", origins),
                "p10": as_matrix(out, f"{name}-lo-80.0", origins),
                "p90": as_matrix(out, f"{name}-hi-80.0", origins),
            }
            for name in ("NHITS", "LSTM", "GRU")
        }

    return forecast


PEERS = {
    "statsforecast": statsforecast_peers,
    "mlforecast": mlforecast_peers,
    "neuralforecast": neuralforecast_peers,
}
VERSIONS = {
    "statsforecast": ("statsforecast",),
    "mlforecast": ("mlforecast", "lightgbm"),
    "neuralforecast": ("neuralforecast", "pytorch-lightning", "torch"),
}


def score(forecast: Quantiles, actual: np.ndarray, regions: np.ndarray, issue: Issue) -> dict:
    """sMAPE of the median by horizon (mean over the regions) and over the scored hours, each
    region's; with quantiles, the pinball loss in percent of the region's mean load, and the
    P10-P90 interval's coverage and width (percent of the mean load), likewise
    (`loadforecast.metrics.quantile_scores`, as `evaluate` scores the pipeline's)."""
    scored = {name: values[:, issue.scored] for name, values in forecast.items()}
    actual = actual[:, issue.scored]
    per_region: dict[str, dict[str, np.ndarray]] = {}
    for region in dict.fromkeys(regions):
        mine, truth = regions == region, actual[regions == region]
        figures = {"smape": smape(scored["p50"][mine], truth, axis=0)}
        if "p10" in scored:
            stacked = np.stack([scored[quantile_name(q)][mine] for q in QUANTILES], axis=-1)
            figures |= quantile_scores(stacked, QUANTILES, truth)
        per_region[region] = figures
    report = {}
    for metric in per_region[regions[0]]:
        curve = np.mean([figures[metric] for figures in per_region.values()], axis=0)
        report[f"{metric}_by_horizon"] = curve.round(4).tolist()
        report[metric] = float(curve.mean())
        report[f"regions_{metric}"] = {
            region: float(figures[metric].mean()) for region, figures in per_region.items()
        }
    return report


def latest_same_hour(series: np.ndarray, rows: np.ndarray, hours: int) -> np.ndarray:
    """For each origin and horizon, the scaled reading at the target's hour of day on the
    latest day before the origin."""
    horizons = np.arange(1, hours + 1)
    back = 24 * np.ceil(horizons / 24).astype(int)
    return series[rows[:, None] + horizons - 1 - back, LOAD_COLUMN]


def pipeline_same_hour(windows: Windows, origins: pd.DataFrame, hours: int) -> np.ndarray:
    """The pipeline's same hour on the latest day before each origin, in megawatts."""
    rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
    return to_megawatts(latest_same_hour(windows.series, rows, hours), regions, windows.scalers)


def actual_loads(windows: Windows, origins: pd.DataFrame, hours: int) -> np.ndarray:
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(hours)
    regions = origins["region"].to_numpy()
    return to_megawatts(windows.series[rows, LOAD_COLUMN], regions, windows.scalers)


def peer_origins(windows: Windows, split: str) -> dict[str, pd.DataFrame]:
    """Each issue time's origins, those of the pipeline's tables: the split's labels at its
    first hour followed by the issue's hours of labels of the split."""
    out = {}
    first_label = windows.index.groupby("region")["label_row"].min()
    for name, issue in ISSUES.items():
        origins = issue_origins(windows, issue, split)
        history = origins["label_row"] - origins["region"].map(first_label) + windows.spec.history
        if (history < CONTEXT_HOURS).any():
            raise LoadForecastError(
                f"issued {name}: {int((history < CONTEXT_HOURS).sum())} origins of the {split} "
                f"part have fewer than the {CONTEXT_HOURS} hours before them that the peers read"
            )
        out[name] = origins
    return out


def pipeline_cells(
    paths: list[Path], windows: Windows, origins: dict[str, pd.DataFrame]
) -> tuple[dict[str, dict[str, Quantiles]], dict[str, list[str]]]:
    """The pipeline's forecasters on the same origins, as `evaluate` runs them, in megawatts:
    each seed, and the seeds' averaged forecast (`<cell>_ensemble`)."""
    import torch

    torch.set_grad_enabled(False)
    series = torch.from_numpy(windows.series)
    cells = {}
    for path in paths:
        forecaster = Forecaster.load(path)
        cells[forecaster.recipe.config.cell] = forecaster
    seeds = {cell: [seed_column(cell, s) for s in f.seeds] for cell, f in cells.items()}
    out: dict[str, dict[str, Quantiles]] = {name: {} for name in origins}
    for name, at in origins.items():
        issue = ISSUES[name]
        scaled, levels = issue_forecasts(cells, windows, series, at, issue)
        regions = at["region"].to_numpy()
        for column, values in scaled.items():
            quantiles = values if values.ndim == 3 else values[..., None]
            megawatts = to_megawatts(quantiles, regions, windows.scalers)
            names = [quantile_name(q) for q in levels.get(column, POINT)]
            out[name][f"{column}_ensemble" if column in cells else column] = {
                q: megawatts[..., i] for i, q in enumerate(names)
            }
    return out, seeds


def run(
    windows: Windows,
    peers: list[str],
    settings: dict,
    split: str = "test",
    models: list[Path] | None = None,
) -> dict:
    """Fit each peer family, forecast from every origin of both issue times, score them (and the
    pipeline's forecasters in `models`, each cell also as the mean of its seeds' figures)."""
    hours = region_hours(windows)
    train = training_part(hours, windows)
    origins = peer_origins(windows, split)
    context = {name: contexts(hours, at) for name, at in origins.items()}
    forecasts: dict[str, dict[str, Quantiles]] = {name: {} for name in ISSUES}
    seconds = {}
    for family in peers:
        started = time.perf_counter()
        forecast = PEERS[family](train, settings)
        fitted = time.perf_counter()
        for name, at in origins.items():
            forecasts[name] |= forecast(context[name], at)
        seconds[family] = {
            "fit": round(fitted - started, 1),
            "forecast": round(time.perf_counter() - fitted, 1),
        }
    started = time.perf_counter()
    own, seeds = pipeline_cells(models or [], windows, origins)
    if models:
        seconds["pipeline"] = {"forecast": round(time.perf_counter() - started, 1)}
    report: dict = {"origins": {}, "seconds": seconds, "predictors": {}}
    for name, at in origins.items():
        issue, regions = ISSUES[name], at["region"].to_numpy()
        actual = actual_loads(windows, at, issue.hours)
        same_hour = pipeline_same_hour(windows, at, issue.hours)
        issued = {
            peer: {q: values[:, : issue.hours] for q, values in quantiles.items()}
            for peer, quantiles in (own[name] | forecasts[name]).items()
        }
        naive = issued.get("statsforecast_seasonal_naive_24")
        if naive is not None:
            gap = float(np.abs(naive["p50"] - same_hour).max())
            if gap > 1e-3 * float(np.abs(same_hour).max()):
                raise LoadForecastError(
                    f"issued {name}: statsforecast's SeasonalNaive(24) differs from the "
                    f"pipeline's same hour by up to {gap:.3f} MW: the origins do not line up"
                )
            report.setdefault("seasonal_naive_max_difference_mw", {})[name] = gap
        issued["same_hour_latest_day"] = {"p50": same_hour}
        report["origins"][name] = len(at)
        for peer, values in issued.items():
            report["predictors"].setdefault(peer, {})[name] = score(values, actual, regions, issue)
        for cell, columns in seeds.items():
            figures = {}
            for metric in ("smape", "pinball", "coverage_p10_p90", "width_p10_p90"):
                if f"{metric}_by_horizon" not in report["predictors"][columns[0]][name]:
                    continue
                curves = np.array(
                    [report["predictors"][c][name][f"{metric}_by_horizon"] for c in columns]
                )
                figures |= {
                    f"{metric}_by_horizon": curves.mean(axis=0).round(4).tolist(),
                    metric: float(curves.mean()),
                    f"{metric}_seeds": curves.mean(axis=1).tolist(),
                }
            report["predictors"].setdefault(cell, {})[name] = figures
    return report


log = logging.getLogger("benchmarks.peers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True, help="the window stage's output")
    parser.add_argument("--peers", nargs="*", choices=list(PEERS), default=list(PEERS))
    parser.add_argument(
        "--models", type=Path, nargs="*", default=[], help="the pipeline's forecasters, beside them"
    )
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--mstl-weeks", type=int, default=4, help="MSTL's context, at most 4")
    parser.add_argument("--lgbm-estimators", type=int, default=500)
    parser.add_argument("--lgbm-direct-estimators", type=int, default=200)
    parser.add_argument("--lgbm-learning-rate", type=float, default=0.05)
    parser.add_argument("--lgbm-leaves", type=int, default=63)
    parser.add_argument("--neural-steps", type=int, default=1000, help="training steps per model")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if not 1 <= args.mstl_weeks <= CONTEXT_HOURS // 168:
        parser.error(f"--mstl-weeks must be 1 to {CONTEXT_HOURS // 168}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("pytorch_lightning", "lightning", "lightning_fabric"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    settings = {
        key: value
        for key, value in vars(args).items()
        if key.startswith(("mstl_", "lgbm_", "neural_"))
    }
    started = time.perf_counter()
    report = run(load_windows(args.windows), args.peers, settings, args.split, args.models)
    versions = {package: version(package) for family in args.peers for package in VERSIONS[family]}
    output = args.output or RESULTS / f"peers-{args.split}-cpu-{datetime.now(UTC):%Y%m%d}.json"
    write_json(
        output,
        {
            "benchmark": "peer libraries on the pipeline's day-ahead origins, issued 23:00 "
            "(horizons 1-24) and 10:00 (horizons 15-38)",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "split": args.split,
            "machine": cpu_flags(),
            "versions": versions,
            "settings": settings | {"context_hours": CONTEXT_HOURS, "horizon": HORIZON},
            "seconds_total": round(time.perf_counter() - started, 1),
            **report,
        },
    )
    for peer, issues in report["predictors"].items():
        figures = "  ".join(f"{name} {issues[name]['smape']:.3f}" for name in ISSUES)
        print(f"{peer:34s} {figures}")


if __name__ == "__main__":
    run_command(main)
