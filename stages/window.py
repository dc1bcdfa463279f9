"""window: per region, split windows by time, fit min-max scaling on the training part, and store
the scaled series with a window index instead of materialised windows (`loadforecast.windows`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from loadforecast.errors import run_command
from loadforecast.files import atomic_path, write_json
from loadforecast.settings import load_params
from loadforecast.windows import SPLITS, build_windows, save_windows

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, help="input Parquet from the features stage")
    parser.add_argument("windows", type=Path, help="output directory")
    parser.add_argument("counts", type=Path, help="output JSON: windows per region and split")
    args = parser.parse_args()
    params = load_params()
    features = pd.read_parquet(args.features)
    windows, counts = build_windows(features, params.window, params.data.used_covariates)
    with atomic_path(args.windows) as tmp:
        tmp.mkdir()
        save_windows(windows, tmp)
    totals = {s: sum(c[s] for c in counts.values()) for s in SPLITS}
    write_json(args.counts, {"total": totals, "regions": counts})
    log.info("%s windows over %d regions -> %s", totals, len(counts), args.windows)


if __name__ == "__main__":
    run_command(main)
