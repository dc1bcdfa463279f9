"""backtest: with `backtest.enabled`, replay daily operations over the last `backtest.days` days
of the readings (`loadforecast.backtest`): forecasts issued every day at 23:00 and 10:00, both
cells and the fitted baselines refitted every `backtest.refit_days` days, scored per month.
Switched off (the default), it only writes that it is off."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import pandas as pd

from loadforecast.backtest import Plan, replay, write_months
from loadforecast.errors import run_command
from loadforecast.files import atomic_path, write_json
from stages import repo

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, help="input Parquet from the features stage")
    parser.add_argument("metrics", type=Path, help="output JSON: the figures per month")
    parser.add_argument("plots", type=Path, help="output directory: sMAPE per month, CSV and PNG")
    args = parser.parse_args()
    params = repo.stage_params()
    settings = params.backtest
    if not settings.enabled:
        with atomic_path(args.plots) as tmp:
            tmp.mkdir()
        write_json(args.metrics, {"enabled": False})
        log.info("backtest.enabled is false: nothing replayed")
        return
    features = pd.read_parquet(args.features)
    plan = Plan(settings.days, settings.refit_days, settings.warm_start)
    with tempfile.TemporaryDirectory() as scratch:
        result = replay(features, params, plan, Path(scratch))
    with atomic_path(args.plots) as tmp:
        write_months(result, tmp)
    write_json(args.metrics, {"enabled": True, **result})
    log.info("backtest %s -> %s", result["period"], args.metrics)


if __name__ == "__main__":
    run_command(main)
