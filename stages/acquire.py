"""Data acquisition: make sure data/raw holds the raw region CSVs.

Files already in data/raw are kept (the stage output is persistent). Missing ones are copied from
`data.source_dir`, or else downloaded from Kaggle with kagglehub.
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


def acquire(params: DataParams, raw_dir: Path, repo_root: Path) -> str:
    """Fill `raw_dir` with the configured regions' files; return where they came from."""
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
    log.info("%d region files in %s (from %s)", len(params.data.regions), args.raw_dir, origin)


if __name__ == "__main__":
    run_command(main)
