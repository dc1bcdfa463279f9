"""Real single series: the default recipe (params.yaml) trained on one series alone, as a
utility's data science team would train it, scored as `evaluate` scores against every baseline.

    python -m benchmarks.single_series --pjm AEP DOM --span 8760 --seeds 42 \
        --output benchmarks/results/single-series-cpu-YYYYMMDD.json
    python -m benchmarks.single_series --utility --set train.hidden_size=64 --output ...

`--pjm`: each named PJM region alone on its last `--span` hours of readings (8,760: a year;
2,016: 12 weeks), US holidays; with `--pjm-transfer DIR`, each started from networks (one seed,
both cells, written to DIR) trained on the three years before the targets of the other half of
PJM's regions (`HALVES`), so that no start has seen its target or its target's hours.
`--utility`: the utility's half-hourly demand of
`../shared/data/utility-year/` (hourly means, Australia/Brisbane, holidays of AU-VIC), once with
its temperature as a `known` covariate and once without it (`--utility temperature_known`: the
first only). Each series runs the library's own
steps, as the stages do: clean, calendar, windows, train every seed of both cells (with the
calibration of their quantiles on the validation part), then the one-hour table,
the day-ahead tables at 23:00 and 10:00 and their intervals, calibrated and not (`evaluate`'s
figures), and each predictor's validation figures (one hour, and the day-ahead tables of the
validation days): the ones to choose a recipe on. `--set section.key=value` changes
params.yaml's recipe, as `dvc exp run -S` does.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from benchmarks.epochs import cpu_flags
from loadforecast import dayahead, report
from loadforecast.baselines import fit_baselines, one_hour, validation_forecasts
from loadforecast.calendar import add_time_features
from loadforecast.checks import guards
from loadforecast.cleaning import clean_readings
from loadforecast.config import ColumnsParams, FeaturesParams, ReadingsParams
from loadforecast.data import PJM_READINGS, read_readings, region_file
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import write_json
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.metrics import predictions_frame, score, seed_column, validation_smape
from loadforecast.model import select_device
from loadforecast.quantiles import average_seeds
from loadforecast.seeds import train_seeds, trained_forecaster, val_smape
from loadforecast.settings import Params, load_params
from loadforecast.training import best_record, model_config
from loadforecast.windows import build_windows

log = logging.getLogger(__name__)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
UTILITY = ReadingsParams(
    format="table",
    columns=ColumnsParams(series="region", timestamp="interval_start", load="demand_mw"),
    timezone="Australia/Brisbane",
    frequency="auto",
    covariates={"temp_c": "known", "workday": "ignored"},
)
UTILITY_CALENDAR = {"holidays": "AU", "holiday_subdivision": "VIC"}


def hourly_table(readings: pd.DataFrame, params: Params, frequency: str) -> pd.DataFrame:
    """One series' readings (region, timestamp, load_mw, covariates) cleaned as ingest cleans
    them, on the local hourly clock, its values float32 as ingest writes them (the training
    that follows is sensitive to their rounding)."""
    (region,) = readings["region"].unique()
    table, _ = clean_readings(readings.drop(columns="region"), params.ingest, frequency)
    return table.astype("float32").reset_index(names="timestamp").assign(region=region)


def figures(
    table: pd.DataFrame,
    params: Params,
    calendar: FeaturesParams,
    readings: ReadingsParams,
    covariates: dict[str, str],
    seeds: list[int],
    device: torch.device,
) -> dict:
    """Both cells trained on one series alone, and every figure `evaluate` reports of them and
    of the baselines, with their validation sMAPE."""
    started = time.perf_counter()
    frame = add_time_features(table, calendar)
    windows, counts = build_windows(frame, params.window, covariates)
    test = windows.split("test")
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    regions = test["region"].to_numpy()
    batch = params.evaluate.batch_size
    train = params.train.changed(device=device.type)
    scaled, forecasters, plain, seed_columns, val = {}, {}, {}, {}, {}
    for cell in ("gru", "lstm"):
        config = model_config(cell, windows, train)
        trained = train_seeds(windows, config, train, seeds, device, batch)
        recipe = Recipe.for_windows(cell, config, windows, params.ingest, calendar, readings)
        limits = guards(windows, config.levels)
        forecasters[cell] = trained_forecaster(recipe, trained, limits, device)
        plain[cell] = Forecaster(recipe, forecasters[cell].states, seeds, device)
        seed_columns[cell] = [seed_column(cell, s) for s in seeds]
        per_seed = forecasters[cell].next_hour(series, rows, regions, batch)
        scaled |= dict(zip(seed_columns[cell], per_seed, strict=True))
        scaled[cell] = average_seeds(per_seed)
        val[cell] = val_smape(windows, trained)
        val[cell] |= {
            "seeds": [val_smape(windows, [t]) for t in trained],
            "kept_epochs": [best_record(t.history)["epoch"] for t in trained],
        }
    trained_seconds = time.perf_counter() - started
    predictors = fit_baselines(windows, params.evaluate.baselines, seeds[0])
    baselines = one_hour(predictors, windows, test)
    mean, _ = score(predictions_frame(windows, test, scaled | baselines), [*scaled, *baselines])
    summary = report.summarise(mean, seed_columns, list(baselines))
    day, _ = dayahead.day_ahead(forecasters, windows, series, baselines=predictors)
    uncalibrated, _ = dayahead.day_ahead(plain, windows, series)
    baselines_val = validation_forecasts(predictors, windows)
    validation_day, _ = dayahead.day_ahead(
        plain, windows, series, baselines=predictors, split="val"
    )
    return {
        "hours": len(table),
        "first": str(table["timestamp"].min()),
        "last": str(table["timestamp"].max()),
        "windows": counts,
        "covariates": covariates,
        "validation_smape": val | {"baselines": validation_smape(windows, baselines_val)},
        "validation_day_ahead": report.day_ahead_headline(validation_day),
        **report.headline(summary, len(test)),
        **report.day_ahead_headline(day),
        "uncalibrated": {
            key: value
            for key, value in report.day_ahead_headline(uncalibrated).items()
            if key.startswith(("coverage", "pinball"))
        },
        "train_seconds": round(trained_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def pjm_table(region: str, params: Params) -> pd.DataFrame:
    """One PJM region's readings, cleaned as ingest cleans them."""
    path = region_file(SHARED / "pjm-hourly", region)
    if path is None:
        raise LoadForecastError(f"{SHARED / 'pjm-hourly'}: no file of region {region}")
    return hourly_table(read_readings([path], PJM_READINGS), params, "h")


# Two halves of PJM's regions: a region's transfer starts from the half without it.
HALVES = (("AEP", "COMED", "DAYTON", "DEOK", "DOM", "DUQ"), ("EKPC", "FE", "NI", "PJME", "PJMW"))
PRETRAIN_HOURS = 3 * 8760  # each region's last three years before the targets' first hour


def pretrain_halves(
    targets: dict[str, pd.DataFrame], params: Params, seed: int, device, directory: Path
) -> dict:
    """Train both cells on each half of PJM's regions (`HALVES`, one seed), on each region's
    `PRETRAIN_HOURS` before the first hour of any target of the other half, and save them in
    `directory/half<i>/` with `pretrained.json`: starts for the targets that no start has seen.
    A half whose `pretrained.json` names the same regions and first target hour is reused."""
    made = {}
    for i, half in enumerate(HALVES):
        others = [t for region, t in targets.items() if region not in half]
        if not others:
            continue
        before = min(t["timestamp"].min() for t in others)
        out = directory / f"half{i}"
        record = out / "pretrained.json"
        kept = json.loads(record.read_text()) if record.exists() else {}
        if (kept.get("before"), kept.get("regions")) == (str(before), list(half)):
            made[f"half{i}"] = kept | {"reused": str(record)}
            log.info("reused the networks of %s trained before %s", out, before)
            continue
        tables = []
        for region in half:
            table = pjm_table(region, params)
            tables.append(table[table["timestamp"] < before].tail(PRETRAIN_HOURS))
        frame = add_time_features(pd.concat(tables, ignore_index=True), params.features)
        windows, _ = build_windows(frame, params.window, {})
        out.mkdir(parents=True, exist_ok=True)
        train = params.train.changed(device=device.type)
        started = time.perf_counter()
        for cell in ("gru", "lstm"):
            config = model_config(cell, windows, train)
            trained = train_seeds(windows, config, train, [seed], device, 1024)
            recipe = Recipe.for_windows(
                cell, config, windows, params.ingest, params.features, PJM_READINGS
            )
            limits = guards(windows, config.levels)
            trained_forecaster(recipe, trained, limits).save(out / f"{cell}.pt")
        made[f"half{i}"] = {
            "regions": list(half),
            "before": str(before),
            "train_windows": len(windows.split("train")),
            "seconds": round(time.perf_counter() - started, 1),
        }
        write_json(record, made[f"half{i}"])
        log.info("pretrained on %s: %s", half, made[f"half{i}"])
    return made


def pjm_runs(
    regions: list[str], span: int, params: Params, seeds, device, transfer: Path | None = None
) -> dict:
    """Each region alone on its last `span` hours; with `transfer` (a directory), its networks
    started from those trained on the half of PJM's regions without it (`pretrain_halves`)."""
    if transfer is not None and (alone := set(regions) - {r for h in HALVES for r in h}):
        raise LoadForecastError(f"{sorted(alone)}: in neither half of PJM's regions {HALVES}")
    tables = {region: pjm_table(region, params).tail(span) for region in regions}
    runs = {}
    if transfer is not None:
        runs["pretrained"] = pretrain_halves(tables, params, seeds[0], device, transfer)
    for region, table in tables.items():
        mine = params
        if transfer is not None:
            (half,) = (i for i, h in enumerate(HALVES) if region not in h)  # the other one
            start = str(transfer / f"half{half}")
            mine = params.model_copy(update={"train": params.train.changed(init_from=start)})
        runs[region] = figures(table, mine, params.features, PJM_READINGS, {}, seeds, device)
        log.info("%s: %s", region, runs[region])
    return runs


UTILITY_RUNS = {"temperature_known": {"temp_c": "known"}, "no_temperature": {}}


def utility_runs(params: Params, seeds, device, names: list[str]) -> dict:
    path = SHARED / "utility-year" / "demand_temperature.csv"
    table = hourly_table(read_readings([path], UTILITY), params, UTILITY.frequency)
    calendar = params.features.changed(**UTILITY_CALENDAR)
    runs = {}
    for name in names:
        covariates = UTILITY_RUNS[name]
        kept = table if covariates else table.drop(columns="temp_c")
        roles = {"temp_c": "ignored", "workday": "ignored"} | covariates
        readings = UTILITY.changed(covariates=roles)
        runs[name] = figures(kept, params, calendar, readings, covariates, seeds, device)
        log.info("utility, %s: %s", name, runs[name])
    return runs


HORIZONS = {"one hour": "test_smape", "23:00": "dayahead_smape", "10:00": "nextday_smape"}


def chosen_cells(run: dict) -> dict[str, dict]:
    """Per horizon, the cell whose seeds' averaged forecast is better on that horizon's validation
    figure, with its test sMAPE and the better fitted baseline's (least squares or gradient
    boosting) on test: what docs/results.md tabulates."""
    chosen = {}
    for horizon, key in HORIZONS.items():
        if horizon == "one hour":
            val = {c: run["validation_smape"][c]["val_smape"] for c in ("gru", "lstm")}
        else:
            val = {c: run["validation_day_ahead"][key][f"{c}_ensemble"] for c in ("gru", "lstm")}
        cell = min(val, key=val.get)
        test = run[key]
        baseline = min(("linear", "gradient_boosting"), key=test.get)
        chosen[horizon] = {
            "cell": cell,
            "smape": test[f"{cell}_ensemble"],
            "baseline": baseline,
            "baseline_smape": test[baseline],
        }
    return chosen


def print_table(files: list[Path]) -> None:
    """The PJM regions of result files, a line each: `chosen_cells` and the P10-P90 coverage;
    then the regions each horizon's cell wins, and each cell's coverage over the regions."""
    wins = dict.fromkeys(HORIZONS, 0)
    coverages: dict[str, list[float]] = {"gru": [], "lstm": []}
    for path in files:
        runs = json.loads(path.read_text())["pjm"]
        for region, run in runs.items():
            if region == "pretrained":
                continue
            figures = []
            for horizon, c in chosen_cells(run).items():
                wins[horizon] += c["smape"] < c["baseline_smape"]
                figures.append(
                    f"{c['cell']} {c['smape']:.3f} / {c['baseline']} {c['baseline_smape']:.3f}"
                )
            coverage = run["coverage_p10_p90"]
            for cell, values in coverages.items():
                values.append(coverage[f"{cell}_ensemble"])
            print(
                f"{region}: " + "; ".join(figures),
                f"; coverage {coverage['gru_ensemble']:.1f} / {coverage['lstm_ensemble']:.1f}%",
            )
    print("the cell ahead of both fitted baselines:", wins)
    print(
        "coverage over the regions, mean (lowest-highest):",
        "; ".join(
            f"{c} {np.mean(v):.1f}% ({min(v):.1f}-{max(v):.1f})" for c, v in coverages.items()
        ),
    )


def with_changes(params: Params, changes: list[str]) -> Params:
    """`params` with each `section.key=value` (a YAML value) changed, validated as params.yaml."""
    for change in changes:
        key, _, value = change.partition("=")
        section, _, name = key.partition(".")
        if not name or not value:
            raise LoadForecastError(f"--set {change}: expected section.key=value")
        changed = getattr(params, section).changed(**{name: yaml.safe_load(value)})
        params = params.model_copy(update={section: changed})
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pjm", nargs="*", default=[], metavar="REGION")
    parser.add_argument("--span", type=int, default=8760, help="hours of each PJM region")
    parser.add_argument(
        "--pjm-transfer",
        type=Path,
        metavar="DIR",
        help="start each PJM region from networks trained on the half of the regions without "
        "it, written to DIR",
    )
    parser.add_argument(
        "--utility",
        nargs="*",
        choices=list(UTILITY_RUNS),
        help="the utility's year: with its temperature, without it (no name: both)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="default: params.yaml's")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="as dvc exp run -S",
    )
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--table", type=Path, nargs="+", metavar="FILE", help="print the PJM table of result files"
    )
    args = parser.parse_args()
    if args.table:
        print_table(args.table)
        return
    if args.output is None:
        parser.error("--output is required, unless --table")
    params = with_changes(load_params(), args.set)
    device = select_device(args.device)
    seeds = args.seeds or params.seeds
    result = {
        "benchmark": "single_series",
        "command": " ".join(["python -m benchmarks.single_series", *sys.argv[1:]]),
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "seeds": seeds,
        "changes": args.set,
        "params": {"train": params.train.model_dump(), "window": params.window.model_dump()},
        "machine": {"cpu_flags": cpu_flags(), "threads": torch.get_num_threads()},
        "pjm": {},
        "utility": {},
    }
    started = time.perf_counter()
    if args.pjm:
        result["pjm"] = pjm_runs(args.pjm, args.span, params, seeds, device, args.pjm_transfer)
        result["pjm_span_hours"] = args.span
    if args.utility is not None:
        names = args.utility or list(UTILITY_RUNS)
        result["utility"] = utility_runs(params, seeds, device, names)
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.output, result)
    print(np.round(time.perf_counter() - started, 1), "s ->", args.output)


if __name__ == "__main__":
    run_command(main)
