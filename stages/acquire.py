"""Data acquisition: make sure data/raw holds the raw readings.

PJM's files (`data.format: pjm`): files already in data/raw are kept (the stage output is
persistent); missing ones are copied from `data.source_dir`, or else downloaded from Kaggle with
kagglehub. A long table (`data.format: table`): the files `data.path` names are copied to
data/raw/table, replacing the last copy, each time the stage runs (when a `data` setting changes;
after editing the file in place, `dvc repro --force --single-item acquire`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from loadforecast.acquire import copy_table, fill_regions
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.settings import DataParams, load_params
from stages.repo import user_repo_root

log = logging.getLogger(__name__)


def acquire(params: DataParams, raw_dir: Path, repo_root: Path) -> str:
    """Fill `raw_dir` with the configured readings; return where they came from."""

    def local(path: str) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else repo_root / path

    if params.format == "table":
        assert params.path is not None  # DataParams checks it
        copy_table(local(params.path), params.raw_source(raw_dir))
        return str(local(params.path))
    source = local(params.source_dir) if params.source_dir else None
    try:
        return fill_regions(raw_dir, params.regions, source, params.kaggle_dataset)
    except LoadForecastError as err:
        keys = "data.source_dir, data.regions and data.kaggle_dataset in params.yaml"
        raise LoadForecastError(f"{err}\nThe settings: {keys}.") from err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", type=Path)
    args = parser.parse_args()
    params = load_params()
    args.raw_dir.mkdir(parents=True, exist_ok=True)
    origin = acquire(params.data, args.raw_dir, user_repo_root())
    log.info("%s readings in %s (from %s)", params.data.format, args.raw_dir, origin)


if __name__ == "__main__":
    run_command(main)
