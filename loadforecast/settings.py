"""A run's settings file (the pipeline's params.yaml), read and validated whole
(`loadforecast.config`): one section per step, each key required, each mistake named with its
key, value and what is allowed. The stages and `loadforecast backtest` read it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from loadforecast.config import (
    BASELINES,
    FeaturesParams,
    IngestParams,
    ReadingsParams,
    Section,
    TrainParams,
    WindowParams,
    validated,
)
from loadforecast.errors import LoadForecastError

PARAMS_FILE = Path("params.yaml")


class ProjectParams(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DataParams(ReadingsParams):
    source_dir: str | None
    kaggle_dataset: str
    path: str | None
    regions: list[str]

    @model_validator(mode="after")
    def _table_has_a_path(self) -> DataParams:
        if self.format == "table" and not self.path:
            raise ValueError(
                "data.path is empty: with data.format = table it names the CSV or Parquet "
                "file, directory or glob of the readings"
            )
        return self

    def raw_source(self, raw_dir: Path) -> Path:
        """Where ingest reads in the acquire stage's `raw_dir`: the PJM files themselves, or
        the copy of the table `path` names."""
        return raw_dir if self.format == "pjm" else raw_dir / "table"

    @property
    def readings(self) -> ReadingsParams:
        """The part a saved forecaster carries."""
        return ReadingsParams.model_validate(
            {key: getattr(self, key) for key in ReadingsParams.model_fields}
        )


class EvaluateParams(Section):
    batch_size: int = Field(ge=1)
    plot_hours: int = Field(ge=1)
    baselines: list[Literal[BASELINES]]


class BacktestParams(Section):
    enabled: bool
    days: int = Field(ge=1)
    refit_days: int = Field(ge=1)
    warm_start: bool


class Params(Section):
    seeds: list[int] = Field(min_length=1)
    project: ProjectParams
    data: DataParams
    ingest: IngestParams
    features: FeaturesParams
    window: WindowParams
    train: TrainParams
    evaluate: EvaluateParams
    backtest: BacktestParams

    def starting_in(self, base: Path) -> Params:
        """These settings with a relative `train.init_from` (or one under ~) taken from `base`."""
        if not self.train.init_from:
            return self
        start = base / Path(self.train.init_from).expanduser()
        return self.model_copy(update={"train": self.train.changed(init_from=str(start))})

    @model_validator(mode="after")
    def _degree_hours_of_known_covariates(self) -> Params:
        try:
            self.features.check_degree_hours(self.data.used_covariates)
        except LoadForecastError as err:
            raise ValueError(f"features.{err}") from None
        return self


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Typed params from the parsed YAML, or a ConfigError naming every key that is wrong."""
    return validated(Params, raw if raw is not None else {}, source)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and check a settings file (by default params.yaml in the working directory)."""
    with path.open() as f:
        return parse_params(yaml.safe_load(f), str(path))
