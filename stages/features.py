"""features: the calendar features of every hourly row (`loadforecast.calendar`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from loadforecast.calendar import add_time_features
from loadforecast.errors import run_command
from loadforecast.files import atomic_path
from loadforecast.settings import load_params

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="input Parquet from ingest")
    parser.add_argument("features", type=Path, help="output Parquet")
    args = parser.parse_args()
    params = load_params()
    frame = add_time_features(pd.read_parquet(args.table), params.features)
    with atomic_path(args.features) as tmp:
        frame.to_parquet(tmp, index=False)
    log.info("%d rows, columns %s -> %s", len(frame), list(frame.columns), args.features)


if __name__ == "__main__":
    run_command(main)
