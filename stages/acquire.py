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
import shutil
from collections.abc import Iterable
from pathlib import Path

from loadforecast.data import region_file
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import atomic_path
from loadforecast.tables import glob_base, table_files
from stages.params import DataParams, load_params
from stages.repo import user_repo_root

log = logging.getLogger(__name__)


def missing_regions(directory: Path, regions: Iterable[str]) -> list[str]:
    return [r for r in regions if region_file(directory, r) is None]


def copy_regions(source: Path, target: Path, regions: Iterable[str]) -> None:
    """Copy each region's file from `source` into `target`, each file atomically."""
    absent = missing_regions(source, regions)
    if absent:
        raise LoadForecastError(
            f"{source}: no file for region(s) {', '.join(absent)} "
            f"(expected <REGION>_hourly.csv or .csv.gz; check data.regions in params.yaml)"
        )
    for region in regions:
        src = region_file(source, region)
        assert src is not None
        with atomic_path(target / src.name) as tmp:
            shutil.copyfile(src, tmp)
        log.info("copied %s", src.name)


def download_kaggle(dataset: str) -> Path:
    """Download the Kaggle dataset with kagglehub and return its local directory."""
    try:
        import kagglehub
    except ImportError as err:
        raise RuntimeError("kagglehub is not installed") from err
    return Path(kagglehub.dataset_download(dataset))


def copy_table(path: Path, target: Path) -> None:
    """Copy the table files `path` names (a file, a directory or a glob) into the directory
    `target`, keeping their places below it (a partitioned dataset's `series=<id>/`), whole."""
    files = table_files(path)
    base = path if path.is_dir() else path.parent if path.is_file() else glob_base(path)
    with atomic_path(target) as tmp:
        for file in files:
            destination = tmp / file.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, destination)
    log.info("copied %d table file(s) from %s", len(files), path)


def acquire(params: DataParams, raw_dir: Path, repo_root: Path) -> str:
    """Fill `raw_dir` with the configured readings; return where they came from."""
    if params.format == "table":
        assert params.path is not None  # DataParams checks it
        source = Path(params.path).expanduser()
        source = source if source.is_absolute() else repo_root / source
        copy_table(source, params.raw_source(raw_dir))
        return str(source)
    absent = missing_regions(raw_dir, params.regions)
    if not absent:
        return str(raw_dir)
    if params.source_dir:
        source = Path(params.source_dir).expanduser()
        source = source if source.is_absolute() else repo_root / source
        if source.is_dir():
            copy_regions(source, raw_dir, absent)
            return str(source)
        log.warning("data.source_dir %s is not a directory; trying Kaggle", source)
    try:
        source = download_kaggle(params.kaggle_dataset)
    except Exception as err:  # no kagglehub, no credentials or no network: say how to go on
        raise LoadForecastError(
            f"{raw_dir} lacks {', '.join(f'{r}_hourly.csv' for r in absent)} and the Kaggle "
            f"download of {params.kaggle_dataset} failed ({err}). Either put the CSV files in a "
            f"directory and name it as data.source_dir in params.yaml, or install kagglehub "
            f"(pip install -e '.[kaggle]'), set up Kaggle credentials and run again with network."
        ) from err
    copy_regions(source, raw_dir, absent)
    return f"kaggle:{params.kaggle_dataset}"


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
