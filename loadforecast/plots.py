"""The evaluation's pictures, as PNG files (matplotlib without pyplot: no display needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.dates import DateFormatter, MonthLocator
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


def plot_by_horizon(table: dict, issued: str, path: Path) -> None:
    """sMAPE against the hour ahead, every predictor of one issue time's table."""
    fig = Figure(figsize=(9, 5))
    ax = fig.subplots()
    for group, suffix in (("models", " (mean of seeds)"), ("ensembles", " (averaged)")):
        for name, scores in table[group].items():
            ax.plot(scores["horizons"], scores["smape_by_horizon"], marker=".", label=name + suffix)
    for name, scores in table["baselines"].items():
        ax.plot(scores["horizons"], scores["smape_by_horizon"], linestyle="--", label=name)
    ax.set(
        title=f"Issued at {issued} for the next day ({table['origins']} days x regions)",
        xlabel="hours ahead",
        ylabel="sMAPE (%), mean over regions",
        yscale="log",
    )
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_fan(frame: pd.DataFrame, cells: list[str], region: str, path: Path) -> None:
    """Each cell's interval between its outermost quantiles and its median, against the
    actual load, over a week of next days forecast at 10:00 (`dayahead.fan_week`)."""
    fig = Figure(figsize=(12, 4))
    ax = fig.subplots()
    ax.plot(frame["label_time"], frame["actual"], color="black", linewidth=1.5, label="actual")
    for cell in cells:
        columns = [c for c in frame.columns if c.startswith(f"{cell}_p")]  # in level order
        low, median, high = columns[0], columns[len(columns) // 2], columns[-1]
        interval = "-".join(c.removeprefix(f"{cell}_") for c in (low, high))
        band = ax.fill_between(
            frame["label_time"], frame[low], frame[high], alpha=0.25, label=f"{cell} {interval}"
        )
        color = band.get_facecolor()[0][:3]
        ax.plot(frame["label_time"], frame[median], color=color, linewidth=1, label=cell)
    ax.set(title=f"{region}: the next day, issued at 10:00, last test week", ylabel="load (MW)")
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_backtest(table: pd.DataFrame, path: Path) -> None:
    """The backtest's sMAPE per month, every predictor, one panel per issue time
    (`backtest.month_table`)."""
    issues = list(dict.fromkeys(table["issue"]))
    fig = Figure(figsize=(6 * len(issues), 4.5))
    for ax, issue in zip(fig.subplots(1, len(issues), squeeze=False)[0], issues, strict=True):
        for predictor, rows in table[table["issue"] == issue].groupby("predictor", sort=False):
            style = "-" if predictor in ("gru", "lstm") else "--"
            months = pd.to_datetime(rows["month"], format="%Y-%m")  # dates: no category axis
            ax.plot(months, rows["smape"], marker="o", linestyle=style, label=predictor)
        ax.xaxis.set_major_locator(MonthLocator())
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))
        ax.set(title=f"Issued at {issue}: sMAPE by month", ylabel="sMAPE (%)", yscale="log")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
