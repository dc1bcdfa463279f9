"""Raw readings put in place: PJM's region files copied from a directory or downloaded from
Kaggle, or a user's table files copied whole."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from loadforecast.data import region_file
from loadforecast.errors import LoadForecastError
from loadforecast.files import atomic_path
from loadforecast.tables import glob_base, table_files

log = logging.getLogger(__name__)


def missing_regions(directory: Path, regions: Iterable[str]) -> list[str]:
    return [r for r in regions if region_file(directory, r) is None]


def copy_regions(source: Path, target: Path, regions: Iterable[str]) -> None:
    """Copy each region's file from `source` into `target`, each file atomically; name the
    regions `source` has no file of."""
    absent = missing_regions(source, regions)
    if absent:
        raise LoadForecastError(
            f"{source}: no file for region(s) {', '.join(absent)} "
            "(expected <REGION>_hourly.csv or .csv.gz)"
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


def fill_regions(
    raw_dir: Path, regions: list[str], source: Path | None, kaggle_dataset: str
) -> str:
    """Give `raw_dir` a file of each region it lacks, from the directory `source` when there is
    one, else from the Kaggle dataset; return where they came from."""
    absent = missing_regions(raw_dir, regions)
    if not absent:
        return str(raw_dir)
    if source is not None:
        if source.is_dir():
            copy_regions(source, raw_dir, absent)
            return str(source)
        log.warning("the source directory %s is not a directory; trying Kaggle", source)
    try:
        downloaded = download_kaggle(kaggle_dataset)
    except Exception as err:  # no kagglehub, no credentials or no network: say how to go on
        raise LoadForecastError(
            f"{raw_dir} lacks {', '.join(f'{r}_hourly.csv' for r in absent)} and the Kaggle "
            f"download of {kaggle_dataset} failed ({err}). Either put the CSV files in a "
            "directory and name it as the source directory, or install kagglehub "
            "(pip install -e '.[kaggle]'), set up Kaggle credentials and run again with network."
        ) from err
    copy_regions(downloaded, raw_dir, absent)
    return f"kaggle:{kaggle_dataset}"
