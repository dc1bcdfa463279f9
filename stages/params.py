"""Typed views of params.yaml: one dataclass per section, read once per stage."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from stages.errors import PipelineError

PARAMS_FILE = Path("params.yaml")
TARGETS = ("level", "delta")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
OBJECTIVES = ("every_hour", "window")
LOSSES = ("mse", "l1")
PRECISIONS = ("fp32", "bf16")
BASELINES = (
    "persistence",
    "same_hour_yesterday",
    "same_hour_last_week",
    "linear",
    "gradient_boosting",
)


class ParamsError(PipelineError):
    """params.yaml is missing a key, has an unknown one, or holds a value out of range."""


@dataclass(frozen=True)
class DataParams:
    source_dir: str | None
    kaggle_dataset: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class IngestParams:
    duplicates: str
    max_fill_hours: int
    outlier_ratio: float

    def __post_init__(self) -> None:
        _check(
            self.duplicates in ("mean", "first", "last"),
            "ingest.duplicates",
            self.duplicates,
            "one of mean, first, last",
        )
        _check(self.max_fill_hours >= 0, "ingest.max_fill_hours", self.max_fill_hours, ">= 0")
        _check(
            0 < self.outlier_ratio < 1,
            "ingest.outlier_ratio",
            self.outlier_ratio,
            "between 0 and 1",
        )


@dataclass(frozen=True)
class FeaturesParams:
    cyclic: bool
    holidays: bool


@dataclass(frozen=True)
class WindowParams:
    lookback: int
    test_fraction: float
    val_fraction: float
    lags: tuple[int, ...] = ()
    future_calendar: bool = False
    min_history: int = 0

    def __post_init__(self) -> None:
        _check(self.lookback >= 1, "window.lookback", self.lookback, ">= 1")
        _check(
            all(isinstance(lag, int) and lag >= 1 for lag in self.lags),
            "window.lags",
            list(self.lags),
            "a list of whole hours >= 1",
        )
        _check(self.min_history >= 0, "window.min_history", self.min_history, ">= 0")
        _check(
            0 < self.test_fraction < 1,
            "window.test_fraction",
            self.test_fraction,
            "between 0 and 1",
        )
        _check(0 <= self.val_fraction < 1, "window.val_fraction", self.val_fraction, "in [0, 1)")


@dataclass(frozen=True)
class TrainParams:
    objective: str
    chunk_hours: int
    burn_in_hours: int
    hidden_size: int
    num_layers: int
    dropout: float
    target: str
    loss: str
    lr: float
    lr_schedule: str
    weight_decay: float
    grad_clip: float
    batch_size: int
    epochs: int
    patience: int
    max_labels_per_epoch: int
    precision: str
    device: str
    processes: int = 1

    def __post_init__(self) -> None:
        _check(
            self.objective in OBJECTIVES, "train.objective", self.objective, f"one of {OBJECTIVES}"
        )
        _check(
            0 <= self.burn_in_hours < self.chunk_hours,
            "train.burn_in_hours",
            self.burn_in_hours,
            f">= 0 and below train.chunk_hours ({self.chunk_hours})",
        )
        for name in (
            "chunk_hours",
            "hidden_size",
            "num_layers",
            "batch_size",
            "epochs",
            "processes",
        ):
            _check(getattr(self, name) >= 1, f"train.{name}", getattr(self, name), ">= 1")
        _check(0 <= self.dropout < 1, "train.dropout", self.dropout, "in [0, 1)")
        _check(self.target in TARGETS, "train.target", self.target, f"one of {TARGETS}")
        _check(self.loss in LOSSES, "train.loss", self.loss, f"one of {LOSSES}")
        _check(self.lr > 0, "train.lr", self.lr, "> 0")
        _check(
            self.lr_schedule in LR_SCHEDULES,
            "train.lr_schedule",
            self.lr_schedule,
            f"one of {LR_SCHEDULES}",
        )
        _check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, ">= 0")
        _check(self.grad_clip >= 0, "train.grad_clip", self.grad_clip, ">= 0 (0 = none)")
        _check(self.patience >= 0, "train.patience", self.patience, ">= 0 (0 = none)")
        _check(
            self.precision in PRECISIONS,
            "train.precision",
            self.precision,
            f"one of {PRECISIONS}",
        )
        _check(
            self.max_labels_per_epoch >= 0,
            "train.max_labels_per_epoch",
            self.max_labels_per_epoch,
            ">= 0 (0 = all)",
        )


@dataclass(frozen=True)
class EvaluateParams:
    batch_size: int
    plot_hours: int
    baselines: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.baselines) - set(BASELINES))
        _check(not unknown, "evaluate.baselines", unknown, f"names among {list(BASELINES)}")


@dataclass(frozen=True)
class Params:
    seeds: tuple[int, ...]
    data: DataParams
    ingest: IngestParams
    features: FeaturesParams
    window: WindowParams
    train: TrainParams
    evaluate: EvaluateParams


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ParamsError(f"params.yaml: {key} = {value!r}, expected {expected}")


def _section(cls: type, raw: dict[str, Any], name: str) -> Any:
    if not isinstance(raw, dict):
        raise ParamsError(f"params.yaml: section '{name}' is missing or not a mapping")
    expected = {f.name for f in fields(cls)}
    missing, unknown = expected - raw.keys(), raw.keys() - expected
    if missing or unknown:
        raise ParamsError(
            f"params.yaml: section '{name}': missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**values)


def parse_params(raw: dict[str, Any]) -> Params:
    """Build typed params from the parsed YAML, naming the first key that is wrong."""
    classes = {
        "data": DataParams,
        "ingest": IngestParams,
        "features": FeaturesParams,
        "window": WindowParams,
        "train": TrainParams,
        "evaluate": EvaluateParams,
    }
    seeds = raw.get("seeds")
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise ParamsError(f"params.yaml: seeds = {seeds!r}, expected a list of integers")
    return Params(
        seeds=tuple(seeds),
        **{name: _section(cls, raw.get(name), name) for name, cls in classes.items()},
    )


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and check params.yaml (stages run from the repository root)."""
    with path.open() as f:
        return parse_params(yaml.safe_load(f) or {})
