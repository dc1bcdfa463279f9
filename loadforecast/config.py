"""The settings of each part of the library, validated by pydantic: every key required (no second
list of defaults beside params.yaml), no unknown key, and an error that names the key, the value
and what is allowed (`ConfigError`, one line per mistake)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from loadforecast.errors import LoadForecastError

BASELINES = (
    "persistence",
    "same_hour_yesterday",
    "same_hour_last_week",
    "linear",
    "gradient_boosting",
)


PRECISIONS = ("fp32", "bf16")


class ConfigError(LoadForecastError):
    """A setting is missing, unknown, or holds a value out of range."""


class Section(BaseModel):
    """Frozen, strict (no string for a number, no number for a flag), no unknown key."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def changed(self, **changes: Any) -> Section:
        """A copy with `changes`, validated like the original (pydantic's copy is not)."""
        return type(self).model_validate(self.model_dump() | changes)


class IngestParams(Section):
    """The cleaning policy (`loadforecast.cleaning`)."""

    duplicates: Literal["mean", "first", "last"]
    max_fill_hours: int = Field(ge=0)
    outlier_ratio: float = Field(gt=0, lt=1)


READING_STEPS = ("auto", "5min", "10min", "15min", "30min", "h")
# known: known in advance for the hours ahead (a temperature forecast, a tariff period), so a
# forecast reads its value for the hour being forecast; observed: known only up to the latest
# reading (a measured temperature); ignored: a column of the table that is not used.
COVARIATE_ROLES = ("known", "observed", "ignored")
# Names the readings table and the calendar features (`loadforecast.calendar`) already use.
RESERVED_COLUMNS = frozenset(
    {"region", "timestamp", "load_mw", "holiday"}
    | {
        f"{name}{suffix}"
        for name in ("hour", "dayofweek", "month", "dayofyear")
        for suffix in ("", "_sin", "_cos")
    }
)


class ColumnsParams(Section):
    """Which columns of a long table hold the series id, the timestamp and the load."""

    series: str = Field(min_length=1)
    timestamp: str = Field(min_length=1)
    load: str = Field(min_length=1)


class ReadingsParams(Section):
    """How raw readings are read (`loadforecast.readers`) and put on the local hourly clock
    (`loadforecast.hourly`): the part of the data contract a saved forecaster carries, so that
    its forecasts read a user's recent readings as the pipeline read the history."""

    format: Literal["pjm", "table"]
    columns: ColumnsParams
    timezone: str
    frequency: Literal[READING_STEPS]
    covariates: dict[str, Literal[COVARIATE_ROLES]] = Field(
        description="column -> known, observed or ignored"
    )

    @property
    def used_covariates(self) -> dict[str, str]:
        """The covariates that become inputs (column -> known or observed), in declared order."""
        return {name: role for name, role in self.covariates.items() if role != "ignored"}

    @model_validator(mode="after")
    def _covariates_of_a_table(self) -> ReadingsParams:
        if self.covariates and self.format != "table":
            raise ValueError(
                f"data.covariates = {self.covariates}: PJM's files hold the load only; "
                "covariates come in a long table (data.format: table)"
            )
        declared = {self.columns.series, self.columns.timestamp, self.columns.load}
        for name in self.covariates:
            if name in declared or name in RESERVED_COLUMNS:
                raise ValueError(
                    f"data.covariates: {name!r} is already the series, timestamp or load column "
                    "or a calendar feature's name; rename the column"
                )
        return self

    @model_validator(mode="after")
    def _known_zone(self) -> ReadingsParams:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"data.timezone = {self.timezone!r}: not a time zone name of the IANA database "
                "(e.g. America/New_York, Europe/London, Australia/Brisbane, UTC)"
            ) from None
        return self


class FeaturesParams(Section):
    """The calendar channels (`loadforecast.calendar`)."""

    cyclic: bool
    holidays: str | None = Field(description="a country code of the holidays package, or null")
    holiday_subdivision: str | None
    extra_holidays: list[str] = Field(description="dates, YYYY-MM-DD")
    degree_hours: dict[str, float] = Field(
        description="a known temperature covariate -> its base in degrees (18: the usual one)"
    )

    @field_validator("holidays", mode="before")
    @classmethod
    def _country_not_flag(cls, country: Any) -> Any:
        if isinstance(country, bool):  # YAML reads NO (Norway), yes, true and false as flags
            raise ValueError(
                f"features.holidays = {country}: expected a country code of the holidays "
                "package, quoted where YAML would read it as true or false ('NO' for Norway), "
                "or null for no holiday flag"
            )
        return country

    @field_validator("extra_holidays", mode="before")
    @classmethod
    def _dates_as_text(cls, days: Any) -> Any:
        """YAML reads an unquoted 2024-11-29 as a date: keep it as the text it was."""
        if isinstance(days, list):
            return [d.isoformat() if isinstance(d, datetime.date) else d for d in days]
        return days

    @model_validator(mode="after")
    def _known_holidays(self) -> FeaturesParams:
        check_holidays(self.holidays, self.holiday_subdivision, self.extra_holidays)
        return self

    def check_degree_hours(self, covariates: dict[str, str]) -> None:
        """Refuse degree hours of a column that is not a `known` covariate: they are read for
        the hour being forecast, as the calendar is."""
        wrong = {c: covariates.get(c, "not a covariate") for c in self.degree_hours}
        wrong = {c: role for c, role in wrong.items() if role != "known"}
        if wrong:
            raise LoadForecastError(
                f"degree_hours of {wrong}: each must be a known covariate (data.covariates), "
                "since a forecast reads them for the hour it forecasts"
            )


class WindowParams(Section):
    """How the series are split by time and windowed (`loadforecast.windows`)."""

    lookback: int = Field(ge=1)
    test_fraction: float = Field(gt=0, lt=1)
    val_fraction: float = Field(ge=0, lt=1)
    lags: list[Annotated[int, Field(ge=1)]] = Field(description="whole hours >= 1")
    future_calendar: bool
    min_history: int = Field(ge=0)


class TrainParams(Section):
    """The network and its training (`loadforecast.model`, `loadforecast.training`)."""

    objective: Literal["multi_horizon", "window"]
    chunk_hours: int = Field(ge=1)
    burn_in_hours: int = Field(ge=0)
    # The multi-horizon decoder's (params.yaml lists them; the defaults are its values).
    horizon_hours: int = Field(48, ge=38, description="evaluate scores hours 15-38 from 10:00")
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = [0.1, 0.5, 0.9]
    origin_stride: int = Field(4, ge=1)
    context_size: int = Field(16, ge=1)
    decoder_size: int = Field(64, ge=1)
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target: Literal["level", "delta"]
    loss: Literal["mse", "l1"]
    lr: float = Field(gt=0)
    lr_schedule: Literal["constant", "cosine", "one_cycle"]
    weight_decay: float = Field(ge=0)
    grad_clip: float = Field(ge=0, description="0 = none")
    batch_size: int = Field(ge=1)
    epochs: int = Field(ge=1)
    min_steps: int = Field(ge=0, description="0 = no minimum")
    patience: int = Field(ge=0, description="0 = none")
    max_labels_per_epoch: int = Field(ge=0, description="0 = all")
    precision: Literal["fp32", "bf16"]
    device: str
    processes: int = Field(ge=1)
    parallel_seeds: bool
    init_from: str | None = Field(None, description="a directory of <cell>.pt forecasters")

    @model_validator(mode="after")
    def _burn_in_within_chunk(self) -> TrainParams:
        if self.burn_in_hours >= self.chunk_hours:
            raise ValueError(
                f"train.burn_in_hours = {self.burn_in_hours}: expected below "
                f"train.chunk_hours ({self.chunk_hours})"
            )
        return self

    @field_validator("quantiles")
    @classmethod
    def _quantiles_increasing(cls, quantiles: list[float]) -> list[float]:
        if not quantiles or quantiles != sorted(set(quantiles)):
            raise ValueError(
                f"train.quantiles = {quantiles}: expected distinct levels in increasing order, "
                "e.g. [0.1, 0.5, 0.9] (the point forecast is the one nearest 0.5)"
            )
        return quantiles


def check_holidays(country: str | None, subdivision: str | None, extra: list[str]) -> None:
    """Refuse a country or subdivision the `holidays` package does not know, and a date that is
    not YYYY-MM-DD, naming the setting and what is allowed (ValueError, for pydantic)."""
    if country is None and subdivision is not None:
        raise ValueError(
            f"features.holiday_subdivision = {subdivision!r} needs a country in features.holidays"
        )
    import holidays as holiday_calendars  # only where a country is checked

    if country is not None:
        try:
            holiday_calendars.country_holidays(country)
        except NotImplementedError:
            raise ValueError(
                f"features.holidays = {country!r}: not a country of the holidays package (its "
                "ISO 3166 code, e.g. US, GB, DE, AU; or null for no holiday flag)"
            ) from None
        known = holiday_calendars.country_holidays(country).subdivisions
        if subdivision is not None and subdivision not in known:
            raise ValueError(
                f"features.holiday_subdivision = {subdivision!r}: not a subdivision of "
                f"{country} in the holidays package (one of {', '.join(known)}; or null)"
            )
    for day in extra:
        try:
            datetime.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ValueError(
                f"features.extra_holidays: {day!r} is not a date like 2024-11-29"
            ) from None


def validated(cls: type[BaseModel], raw: Any, source: str, prefix: str = "") -> Any:
    """`cls` built from `raw`, or a ConfigError naming `source` (e.g. params.yaml) and, for
    each mistake, the key (`prefix` + its path), the value given and what is allowed."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError("\n".join(describe(e, source, prefix) for e in err.errors())) from None


def describe(error: dict[str, Any], source: str, prefix: str) -> str:
    """One pydantic error as a line a person can act on."""
    key = prefix + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).removeprefix(".")
    if error["type"] == "missing":
        return f"{source}: {key} is missing"
    if error["type"] == "extra_forbidden":
        return f"{source}: {key} is not a known key (a typo?)"
    if error["type"] == "value_error":  # our own checks, which name the key themselves
        return f"{source}: {error['msg'].removeprefix('Value error, ')}"
    return f"{source}: {key} = {error['input']!r}: {error['msg'].lower()}"
