"""params.yaml, read once per stage and validated whole (`loadforecast.config`): one section per
stage, each key required, each mistake named with its key, value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field

from loadforecast.config import (
    BASELINES,
    FeaturesParams,
    IngestParams,
    Section,
    TrainParams,
    WindowParams,
    validated,
)

PARAMS_FILE = Path("params.yaml")


class DataParams(Section):
    source_dir: str | None
    kaggle_dataset: str
    regions: list[str]


class EvaluateParams(Section):
    batch_size: int = Field(ge=1)
    plot_hours: int = Field(ge=1)
    baselines: list[Literal[BASELINES]]


class Params(Section):
    seeds: list[int] = Field(min_length=1)
    data: DataParams
    ingest: IngestParams
    features: FeaturesParams
    window: WindowParams
    train: TrainParams
    evaluate: EvaluateParams


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Typed params from the parsed YAML, or a ConfigError naming every key that is wrong."""
    return validated(Params, raw if raw is not None else {}, source)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and check params.yaml (stages run from the repository root)."""
    with path.open() as f:
        return parse_params(yaml.safe_load(f), str(path))
