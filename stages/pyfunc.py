"""The forecaster as an MLflow Model (pyfunc flavour): loadable anywhere the store is reachable.

    model = mlflow.pyfunc.load_model("runs:/<run id>/model")   # or models:/pjm-load-gru@champion
    model.predict(readings)   # region, timestamp, load_mw -> region, timestamp, forecast_mw, model

The model directory holds the forecaster's weights and recipe (`stages.forecaster`) and this
package's code, so loading needs no checkout of the repository and no window artefacts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow
import torch
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from stages import forecaster
from stages.errors import PipelineError

ARTIFACT = "forecaster"
PACKAGE = Path(__file__).resolve().parent


def requirements() -> list[str]:
    """What the model's code imports, pinned to the versions it was logged with."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"pyarrow=={pyarrow.__version__}",
        f"pyyaml=={yaml.__version__}",
    ]


class LoadForecasterModel(mlflow.pyfunc.PythonModel):
    """Hourly readings of one or more regions in, each region's next hour (or `hours`) out."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        path = Path(context.artifacts[ARTIFACT])
        self.forecasts = forecaster.load(path, torch.device("cpu"))

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> pd.DataFrame:
        """The next hour per region, or the next `hours` (a parameter: 24 for day-ahead)."""
        try:
            return self.forecasts.forecast(model_input, (params or {}).get("hours", 1))
        except PipelineError as err:  # bad readings: the message, without our stack
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None


def log_model(recipe: forecaster.Recipe, states: list[dict], example: pd.DataFrame) -> ModelInfo:
    """Log the forecaster to the active run as `model`, with a signature and `example` as its
    input example (its forecast checks the model before anything is logged)."""
    output = forecaster.Forecasts(recipe, states, torch.device("cpu")).forecast(example)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{ARTIFACT}.pt"
        forecaster.save(path, recipe, states)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=LoadForecasterModel(),
            artifacts={ARTIFACT: str(path)},
            code_paths=[str(PACKAGE)],
            signature=infer_signature(example, output, params={"hours": 1}),
            input_example=example,
            pip_requirements=requirements(),
        )
