"""The `loadforecast` command: forecasts from recent readings, and the champion of a registered
model.

    loadforecast forecast data/models/gru.pt recent/AEP_hourly.csv recent/DOM_hourly.csv
    loadforecast forecast models:/pjm-load-gru@champion recent/*.csv --hours 24
    loadforecast forecast data/models/lstm.pt recent.parquet --hours 24
    loadforecast backtest data/raw --days 90 --refit-days 30 --output backtest
    loadforecast promote pjm-load-gru 3

`forecast` takes a saved forecaster (the train stage's `data/models/<cell>.pt`, from any
directory) or the URI of one of this project's MLflow models (`runs:/<run id>/model`,
`models:/<name>@<alias>`; from the store of the current directory unless MLFLOW_TRACKING_URI names
another). The readings files are in the format the model was trained from (`data.format`): one
region's `Datetime,<REGION>_MW` rows per file, or long tables with the columns `data.columns`
named, in any order; read and cleaned as the pipeline's ingest does, in the model's time zone
unless the timestamps carry offsets. The forecast is printed and written as CSV (`--output`),
whole or not at all.

`backtest` replays operations over the last days of the readings with the recipe of a settings
file (`--settings`, params.yaml by default; `loadforecast.backtest`): both cells and the fitted
baselines refitted every `--refit-days`, the next day issued daily at 23:00 and 10:00, scored
per month. The readings are `data.format`'s, cleaned as ingest cleans them (`data.regions`); the
output directory gets `backtest.json`, each issue's sMAPE per month as CSV and their picture.

`promote` points the alias `champion` at a registered version, after showing the validation
sMAPE of the current champion and of the candidate; unless `--force`, it refuses a version whose
sMAPE on the same validation origins is higher, or that was trained on other data.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import pandas as pd

from loadforecast.checks import CHECKS, ReadingChecks
from loadforecast.data import read_readings
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import atomic_path
from loadforecast.forecaster import NOT_OURS, Forecaster

log = logging.getLogger(__name__)


def mlflow_forecaster(uri: str) -> Forecaster:
    """One of this project's MLflow models, named with its URI, version and run."""
    from loadforecast import tracking
    from loadforecast.tracking.pyfunc import LoadForecasterModel

    tracking.mlflow.set_tracking_uri(tracking.tracking_uri(Path.cwd()))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line on error
    try:
        model = tracking.mlflow.pyfunc.load_model(uri)
    except tracking.mlflow.exceptions.MlflowException as err:
        raise LoadForecastError(
            f"{uri}: {err.message} (this project's models are runs:/<run id>/model of a train "
            "run, or models:/<project>-<cell>@<alias>)"
        ) from err
    except (ImportError, *NOT_OURS) as err:  # another project's model, and its code
        raise LoadForecastError(f"{uri}: not a load forecaster of this project ({err})") from err
    try:
        python_model = model.unwrap_python_model()
    except tracking.mlflow.exceptions.MlflowException:  # not a custom pyfunc model
        python_model = None
    if not isinstance(python_model, LoadForecasterModel):
        raise LoadForecastError(f"{uri}: not a load forecaster of this project")
    forecaster = python_model.forecaster
    return forecaster.renamed(f"{forecaster.recipe.name}, {source(uri, model)}")


def source(uri: str, model) -> str:
    """The URI, with the version an alias points at now and the run that logged the model."""
    from loadforecast import tracking

    name, _, alias = uri.removeprefix("models:/").partition("@")
    if uri.startswith("models:/") and alias:
        version = tracking.mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
        return f"{uri} (version {version}, run {model.metadata.run_id})"
    return f"{uri} (run {model.metadata.run_id})"


def only_next_day(table: pd.DataFrame, reach: int) -> pd.DataFrame:
    """Each region's 24 rows of the calendar day after its latest reading's (local time), from
    a forecast of `reach` hours, or an error naming a region whose next day it does not reach
    (from readings up to 09:00, as a day-ahead market bid at 10:00, it is hours 15-38)."""
    latest = table.groupby("region")["timestamp"].transform("min") - pd.Timedelta(hours=1)
    day = table[table["timestamp"].dt.normalize() == latest.dt.normalize() + pd.Timedelta(days=1)]
    hours = day.groupby("region").size().reindex(table["region"].unique(), fill_value=0)
    if (hours < 24).any():
        region = hours.index[hours < 24][0]
        raise LoadForecastError(
            f"region {region!r}: the model forecasts {reach} hours ahead, which reach "
            f"{hours[region]} of the 24 hours of the next day; give readings up to a later hour "
            "(up to 09:00 or later for a model of 38 hours)"
        )
    return day


def forecast(args: argparse.Namespace) -> None:
    if args.next_day and args.hours is not None:
        raise LoadForecastError("--next-day sets the hours itself: give --next-day or --hours")
    hours = 1 if args.hours is None else args.hours  # checked against the model's horizons
    if args.model.endswith(".pt"):
        forecaster = Forecaster.load(Path(args.model))
        forecaster = forecaster.renamed(f"{forecaster.recipe.name}, {args.model}")
    else:
        forecaster = mlflow_forecaster(args.model)
    readings = read_readings(args.readings, forecaster.recipe.readings)
    checks = ReadingChecks(
        frozenset(args.fallback), args.flat_hours, args.issued_at, args.max_age_hours
    )
    if args.next_day:
        reach = forecaster.recipe.config.horizons
        table = forecaster.forecast(readings, reach, args.quantiles, checks)
        table = only_next_day(table, reach)
    else:
        table = forecaster.forecast(readings, hours, args.quantiles, checks)
    with atomic_path(args.output) as tmp:
        table.to_csv(tmp, index=False)
    print(f"model: {table['model'].iloc[0]}")  # one model made every row
    print(table.drop(columns="model").to_string(index=False))
    log.info("-> %s", args.output)


def backtest(args: argparse.Namespace) -> None:
    from loadforecast.backtest import Plan, replay, write_months
    from loadforecast.calendar import add_time_features
    from loadforecast.data import read_regions
    from loadforecast.files import write_json
    from loadforecast.settings import load_params

    settings = load_params(args.settings).starting_in(args.settings.parent)
    chosen = settings.backtest
    plan = Plan(
        chosen.days if args.days is None else args.days,
        chosen.refit_days if args.refit_days is None else args.refit_days,
        chosen.warm_start if args.warm_start is None else args.warm_start,
    )
    table, _ = read_regions(
        args.readings, settings.data.regions, settings.ingest, settings.data.readings
    )
    features = add_time_features(table, settings.features)
    with atomic_path(args.output) as tmp:
        tmp.mkdir()
        result = replay(features, settings, plan, tmp / "refits")
        months = write_months(result, tmp / "months")
        write_json(tmp / "backtest.json", result)
    period = result["period"]
    print(f"backtest {period['first_day']} to {period['end']} (exclusive), sMAPE % per month:")
    wide = months.pivot(index=["issue", "month"], columns="predictor", values="smape")
    print(wide.round(2).to_string())  # every predictor, however wide
    log.info("-> %s", args.output)


def promote(args: argparse.Namespace) -> None:
    from loadforecast import tracking
    from loadforecast.tracking import registry

    tracking.mlflow.set_tracking_uri(tracking.tracking_uri(Path.cwd()))
    for line in registry.promote(args.name, args.version, args.force):
        print(line)


def whole_days(text: str) -> int:
    """An argparse type: a whole number of days, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected 1 day or more")
    return value


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="loadforecast", description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    on = commands.add_parser("forecast", help="forecast from recent readings")
    on.add_argument("model", help="data/models/<cell>.pt, runs:/<id>/model or models:/...")
    on.add_argument(
        "readings", type=Path, nargs="+", help="readings files, in the model's data.format"
    )
    on.add_argument(
        "--hours",
        type=int,
        help="hours ahead: 1 (the default) to the model's horizons (48 by default)",
    )
    on.add_argument(
        "--next-day",
        action="store_true",
        help="the next calendar day after the latest reading, hour by hour (from readings up "
        "to 09:00: hours 15-38 ahead)",
    )
    on.add_argument(
        "--quantiles",
        type=float,
        nargs="+",
        metavar="LEVEL",
        help="of a multi-horizon model: the quantiles to give (default: all it was trained for)",
    )
    on.add_argument(
        "--fallback",
        nargs="+",
        default=[],
        choices=CHECKS,
        metavar="CHECK",
        help=f"checks of the readings ({', '.join(CHECKS)}) that, failed, forecast the region "
        "from the same hour last week (its quality column says so) instead of refusing",
    )
    on.add_argument(
        "--flat-hours",
        type=int,
        default=ReadingChecks.flat_hours,
        help="identical hourly loads that are a stuck meter",
    )
    on.add_argument(
        "--issued-at",
        help="the issue time (now, or a time: naive in the model's time zone, or with a UTC "
        "offset): readings older than --max-age-hours before it are stale",
    )
    on.add_argument("--max-age-hours", type=float, default=ReadingChecks.max_age_hours)
    on.add_argument("--output", type=Path, default=Path("forecast.csv"))
    on.set_defaults(run=forecast)
    back = commands.add_parser(
        "backtest", help="replay daily forecasts over past days, refitted as in operation"
    )
    back.add_argument(
        "readings", type=Path, help="a directory of PJM files, or the table data.path would name"
    )
    back.add_argument("--settings", type=Path, default=Path("params.yaml"))
    back.add_argument("--days", type=whole_days, help="days replayed (default: backtest.days)")
    back.add_argument(
        "--refit-days", type=whole_days, help="days between refits (default: backtest.refit_days)"
    )
    back.add_argument(
        "--warm-start",
        action=argparse.BooleanOptionalAction,
        help="refit from the previous refit's networks (default: backtest.warm_start)",
    )
    back.add_argument("--output", type=Path, default=Path("backtest"))
    back.set_defaults(run=backtest)
    up = commands.add_parser("promote", help="point a registered model's champion at a version")
    up.add_argument("name", help="registered model, e.g. pjm-load-gru")
    up.add_argument("version", help="the version to promote")
    up.add_argument("--force", action="store_true", help="even if worse, or trained on other data")
    up.set_defaults(run=promote)
    return main_parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run_command(lambda: args.run(args))


if __name__ == "__main__":
    main()
