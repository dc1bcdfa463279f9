"""The forecaster as an MLflow Model (pyfunc flavour): loadable anywhere the store is reachable.

    model = mlflow.pyfunc.load_model("runs:/<run id>/model")   # or models:/pjm-load-gru@champion
    model.predict(readings)   # region, timestamp, load_mw -> region, timestamp, forecast_mw, model
    model.predict(readings, params={"hours": 38, "quantiles": [0.1, 0.9]})  # multi-horizon
    model.predict(readings, params={"fallback": "flat_line,jump", "issued_at": "now"})

The model directory holds the saved forecaster (`loadforecast.forecaster`) and this library's
code, so loading needs no checkout of the repository, no pipeline and no window artefacts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import holidays
import mlflow
import numpy as np
import pandas as pd
import pyarrow
import pydantic
import torch
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from loadforecast.checks import ReadingChecks
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster

ARTIFACT = "forecaster"
# Readings a request may carry (a forecast needs about 300 hours per region: 1,000 regions of
# hourly readings, or 80 of five-minute ones); more is refused before anything is forecast.
MAX_ROWS = 300_000
LIBRARY = Path(__file__).resolve().parents[1]  # the loadforecast package


def requirements() -> list[str]:
    """What the library imports when it forecasts, pinned to the versions it was logged with."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"pyarrow=={pyarrow.__version__}",
        f"pydantic=={pydantic.__version__}",
        f"holidays=={holidays.__version__}",
    ]


class LoadForecasterModel(mlflow.pyfunc.PythonModel):
    """Hourly readings of one or more regions in, each region's next hour (or `hours`) out."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.forecaster = Forecaster.load(Path(context.artifacts[ARTIFACT]))

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> pd.DataFrame:
        """The next hour per region, or the next `hours` (a parameter: 24 for day-ahead), with
        the `quantiles` asked for (a parameter of multi-horizon models: all by default)."""
        params = params or {}
        if len(model_input) > MAX_ROWS:
            raise MlflowException(
                f"{len(model_input):,} rows of readings: a request carries {MAX_ROWS:,} at most; "
                "send the last two weeks of each region, or fewer regions per request",
                error_code=INVALID_PARAMETER_VALUE,
            )
        try:
            checks = ReadingChecks(
                frozenset(filter(None, params.get("fallback", "").split(","))),
                params.get("flat_hours", ReadingChecks.flat_hours),
                params.get("issued_at") or None,
                params.get("max_age_hours", ReadingChecks.max_age_hours),
            )
            return self.forecaster.forecast(
                model_input, params.get("hours", 1), params.get("quantiles"), checks
            )
        except LoadForecastError as err:  # bad readings: the message, without our stack
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None


def request_params(forecaster: Forecaster) -> dict:
    """The parameters a request may set, with their defaults (MLflow refuses others): `hours`,
    a multi-horizon model's `quantiles`, and the readings' checks (`checks.ReadingChecks`:
    `fallback`, the checks that fall back, comma-separated; `issued_at`, empty for none)."""
    config = forecaster.recipe.config
    return {
        "hours": 1,
        **({"quantiles": list(config.quantiles)} if config.quantiles else {}),
        "fallback": "",
        "flat_hours": ReadingChecks.flat_hours,
        "issued_at": "",
        "max_age_hours": ReadingChecks.max_age_hours,
    }


def log_model(forecaster: Forecaster, example: pd.DataFrame) -> ModelInfo:
    """Log the forecaster to the active run as `model`, with a signature and `example` as its
    input example (its forecast checks the model before anything is logged)."""
    output = forecaster.forecast(example)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{ARTIFACT}.pt"
        forecaster.save(path)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=LoadForecasterModel(),
            artifacts={ARTIFACT: str(path)},
            code_paths=[str(LIBRARY)],
            signature=infer_signature(example, output, params=request_params(forecaster)),
            input_example=example,
            pip_requirements=requirements(),
        )
