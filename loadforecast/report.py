"""The evaluation report: the scores of every predictor grouped as people read them (each cell
as the mean and spread over its seeds, its seeds' averaged forecast, the baselines, each seed),
and the headline figures an experiment is judged by (`dvc exp show`)."""

from __future__ import annotations

from loadforecast.dayahead import ISSUES
from loadforecast.metrics import over_seeds


def summarise(scores: dict, seed_columns: dict[str, list[str]], baselines: list[str]) -> dict:
    """One scores table (the mean over regions, or one region's) grouped for reporting."""
    return {
        "models": {c: over_seeds([scores[s] for s in cols]) for c, cols in seed_columns.items()},
        "ensembles": {c: scores[c] for c in seed_columns},
        "baselines": {b: scores[b] for b in baselines},
        "seeds": {col: scores[col] for cols in seed_columns.values() for col in cols},
    }


def headline(report: dict, test_windows: int) -> dict:
    """Each predictor's test sMAPE, mean over regions; for a cell, the mean over seeds, its
    spread, and the seeds' averaged forecast."""
    return {
        "test_smape": by_predictor(report, "smape"),
        "test_smape_std": {cell: s["smape_std"] for cell, s in report["models"].items()},
        "test_windows": test_windows,
    }


def by_predictor(report: dict, key: str) -> dict[str, float]:
    """`key` of every predictor in a report that has it: each cell (the mean over seeds), its
    seeds' averaged forecast (`<cell>_ensemble`) and each baseline."""
    return {
        **{cell: scores[key] for cell, scores in report["models"].items() if key in scores},
        **{f"{c}_ensemble": s[key] for c, s in report["ensembles"].items() if key in s},
        **{name: scores[key] for name, scores in report["baselines"].items() if key in scores},
    }


def day_ahead_headline(tables: dict) -> dict:
    """Each predictor's sMAPE over the day of each issue time (mean over its horizons and the
    regions): `dayahead_smape` issued 23:00, `nextday_smape` issued 10:00; and for those with
    quantiles, the pinball loss and interval coverage, the mean over both issue times."""
    headline: dict = {}
    quantile_keys = set()
    for name, table in tables.items():
        metric = ISSUES[name].metric
        headline[f"{metric}_smape"] = by_predictor(table, "smape_day")
        for scores in table["ensembles"].values():
            quantile_keys |= {k for k in scores if k.endswith("_day") and k != "smape_day"}
    for key in sorted(quantile_keys):
        if key.startswith("width_"):
            continue
        figures = [by_predictor(table, key) for table in tables.values()]
        headline[key.removesuffix("_day")] = {
            predictor: sum(f[predictor] for f in figures) / len(figures) for predictor in figures[0]
        }
    return headline


def test_metrics(column: str, mean: dict, per_region: dict) -> dict[str, float]:
    """A predictor's test figures under the names every run shares, so that the runs table
    sorts models and baselines together: `test_smape`, ..., and `test_smape/<REGION>` (a section
    of its own on the run page, right after the loss curves)."""
    return {f"test_{m}": v for m, v in mean[column].items()} | {
        f"test_smape/{r}": scores[column]["smape"] for r, scores in per_region.items()
    }


def day_ahead_scores(table: dict, column: str) -> dict | None:
    """A predictor's scores in one issue time's table: a seed's, a cell's averaged forecast's or
    a baseline's."""
    for group in ("seeds", "ensembles", "baselines"):
        if column in table.get(group, {}):
            return table[group][column]
    return None
