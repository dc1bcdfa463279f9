"""The evaluation's pictures, as PNG files (matplotlib without pyplot: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_region(frame: pd.DataFrame, predictors: list[str], region: str, path: Path) -> None:
    """Forecast against actual load over the hours of `frame` (label_time, actual, predictors)."""
    fig = Figure(figsize=(12, 4))
    ax = fig.subplots()
    ax.plot(frame["label_time"], frame["actual"], color="black", linewidth=1.5, label="actual")
    for name in predictors:
        ax.plot(frame["label_time"], frame[name], linewidth=1, label=name)
    ax.set(title=f"{region}: forecast vs actual, end of the test period", ylabel="load (MW)")
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_by_horizon(day: dict, path: Path) -> None:
    """sMAPE against the hour ahead, every day-ahead predictor."""
    fig = Figure(figsize=(9, 5))
    ax = fig.subplots()
    hours = np.arange(1, 25)
    for group, suffix in (("models", " (mean of seeds)"), ("ensembles", " (averaged)")):
        for name, scores in day[group].items():
            ax.plot(hours, scores["smape_by_horizon"], marker=".", label=name + suffix)
    for name, scores in day["baselines"].items():
        ax.plot(hours, scores["smape_by_horizon"], linestyle="--", label=name)
    ax.set(
        title=f"Day ahead from each test midnight ({day['origins']} days x regions)",
        xlabel="hour ahead",
        ylabel="sMAPE (%), mean over regions",
        yscale="log",
    )
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
