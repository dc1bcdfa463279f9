"""forecast: each region's next hour, or next `--hours`, from recent readings in the raw format.

    python -m stages.forecast data/models/gru.pt recent/AEP_hourly.csv recent/DOM_hourly.csv
    python -m stages.forecast models:/pjm-load-gru@champion recent/*.csv --hours 24

The model is the train stage's checkpoint (read with this repository's window artefacts and
params.yaml), or the URI of one of this project's MLflow models (`runs:/<run id>/model`,
`models:/<name>@<alias>`; from the repository's store unless MLFLOW_TRACKING_URI names another).
Each readings file is one region's `Datetime,<REGION>_MW` rows in any order, read and cleaned by
ingest's code. The forecast is printed and written as CSV (`--output`), whole or not at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from stages.batches import META_FILE, InputSpec
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, read_json, user_repo_root
from stages.forecaster import MAX_HOURS, Forecasts, Recipe
from stages.ingest import read_region_csv
from stages.model import ModelConfig
from stages.params import load_params

log = logging.getLogger(__name__)
# What reading a file that is not one of our models raises, besides the loader's own errors.
NOT_OURS = (OSError, RuntimeError, KeyError, TypeError, EOFError, IndexError, ValueError)


def region_of(path: Path) -> str:
    """The region a raw file holds, from its `Datetime,<REGION>_MW` header."""
    try:
        header = [c.strip() for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    except (OSError, ValueError, UnicodeError, EOFError) as err:
        if not path.is_file():
            raise PipelineError(f"{path}: no such file") from err
        read_region_csv(path, "REGION")  # says what is wrong with the file, and where
        raise PipelineError(f"{path}: not a readings file ({err})") from err
    if len(header) != 2 or header[0] != "Datetime" or not header[1].endswith("_MW"):
        raise PipelineError(
            f"{path}: header is {','.join(header)!r}, expected 'Datetime,<REGION>_MW' "
            "(the raw files' format: one region per file)"
        )
    return header[1].removesuffix("_MW")


def read_readings(paths: list[Path]) -> pd.DataFrame:
    """Every file's readings as (region, timestamp, load_mw)."""
    frames = []
    for path in paths:
        region = region_of(path)
        frames.append(read_region_csv(path, region).assign(region=region))
    return pd.concat(frames, ignore_index=True)[["region", "timestamp", "load_mw"]]


def checkpoint_forecasts(path: Path, windows_dir: Path) -> Forecasts:
    """The train stage's checkpoint, with the scalers of the windows it was trained on and the
    cleaning and calendar recipe of params.yaml."""
    if not path.is_file():
        raise PipelineError(
            f"{path}: no such file: build it (dvc repro, or dvc pull from the team's remote), "
            "or forecast from an MLflow model (models:/pjm-load-gru@champion)"
        )
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        config, spec = ModelConfig(**stored["config"]), InputSpec.from_dict(stored["spec"])
        states = [entry["state_dict"] for entry in stored["models"]]
        seeds = ", ".join(str(entry["seed"]) for entry in stored["models"])
        features = list(stored["features"])
    except (*NOT_OURS, pickle.UnpicklingError) as err:
        raise PipelineError(f"{path}: not a checkpoint of this project's train stage") from err
    try:  # the windows' layout and scalers, not their 1 M rows
        meta = read_json(windows_dir / META_FILE)
        params = load_params()
    except FileNotFoundError as err:
        raise PipelineError(
            f"{err.filename}: missing; a checkpoint forecasts with the windows and params.yaml "
            "it was trained with: run from the repository root after dvc repro"
        ) from err
    if spec != InputSpec.from_dict(meta) or features != meta["features"]:
        raise PipelineError(
            f"{path} was trained on other windows than {windows_dir}: rerun the pipeline "
            "(dvc repro), or forecast from its MLflow model instead"
        )
    name = f"{config.cell} (seeds {seeds}), {path}"
    recipe = Recipe(name, config, spec, features, meta["scalers"], params.ingest, params.features)
    return Forecasts(recipe, states, torch.device("cpu"))


def mlflow_forecasts(uri: str) -> Forecasts:
    """One of this project's MLflow models, from the repository's store or MLFLOW_TRACKING_URI."""
    from stages import tracking
    from stages.pyfunc import LoadForecasterModel

    tracking.mlflow.set_tracking_uri(tracking.tracking_uri(user_repo_root()))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line on error
    try:
        model = tracking.mlflow.pyfunc.load_model(uri)
    except tracking.mlflow.exceptions.MlflowException as err:
        raise PipelineError(
            f"{uri}: {err.message} (this project's models are runs:/<run id>/model of a train "
            "run, or models:/pjm-load-<cell>@<alias>)"
        ) from err
    except (ImportError, *NOT_OURS) as err:  # another project's model, and its code
        raise PipelineError(f"{uri}: not a load forecaster of this project ({err})") from err
    try:
        python_model = model.unwrap_python_model()
    except tracking.mlflow.exceptions.MlflowException:  # not a custom pyfunc model
        python_model = None
    if not isinstance(python_model, LoadForecasterModel):
        raise PipelineError(f"{uri}: not a load forecaster of this project")
    forecasts = python_model.forecasts
    forecasts.recipe = replace(
        forecasts.recipe, name=f"{forecasts.recipe.name}, {source(uri, model)}"
    )
    return forecasts


def source(uri: str, model) -> str:
    """The URI, with the version an alias points at now and the run that logged the model."""
    from stages import tracking

    name, _, alias = uri.removeprefix("models:/").partition("@")
    if uri.startswith("models:/") and alias:
        version = tracking.mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
        return f"{uri} (version {version}, run {model.metadata.run_id})"
    return f"{uri} (run {model.metadata.run_id})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="data/models/<cell>.pt, runs:/<id>/model or models:/...")
    parser.add_argument("readings", type=Path, nargs="+", help="raw CSV files, one per region")
    parser.add_argument("--hours", type=int, default=1, help=f"hours ahead, 1 to {MAX_HOURS}")
    parser.add_argument("--output", type=Path, default=Path("forecast.csv"))
    parser.add_argument("--windows", type=Path, default=Path("data/windows"))
    args = parser.parse_args()
    if not 1 <= args.hours <= MAX_HOURS:
        raise PipelineError(f"--hours {args.hours}: forecast between 1 and {MAX_HOURS} hours")
    readings = read_readings(args.readings)
    if args.model.endswith(".pt"):
        forecasts = checkpoint_forecasts(Path(args.model), args.windows)
    else:
        forecasts = mlflow_forecasts(args.model)
    forecast = forecasts.forecast(readings, args.hours)
    with atomic_path(args.output) as tmp:
        forecast.to_csv(tmp, index=False)
    print(f"model: {forecast['model'].iloc[0]}")  # one model made every row
    print(forecast.drop(columns="model").to_string(index=False))
    log.info("-> %s", args.output)


if __name__ == "__main__":
    run_stage(main)
