"""The model registry: each pipeline run's models, one registered model per cell.

Every `evaluate` registers each cell's averaged model (its run's `model`) as a new version of
`<project>-<cell>` (`project.name`; `pjm-load-gru` for PJM's data), tagged with the DVC
experiment, the commit and its validation and test sMAPE, and points the alias `challenger` at
it. Moving `champion` stays a person's decision, made on the
validation figures (`promote`, behind `loadforecast promote`).
"""

from __future__ import annotations

import logging

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from loadforecast.errors import LoadForecastError

log = logging.getLogger(__name__)

CHALLENGER, CHAMPION = "challenger", "champion"


def registered_name(cell: str) -> str:
    from loadforecast import tracking

    return f"{tracking.project_name()}-{cell}"


def version_tags(run: mlflow.entities.Run) -> dict[str, str]:
    """What a version is judged and traced by: its figures, experiment, commit and run."""
    tags = {
        "dvc_experiment": run.data.tags.get("dvc.exp_name", "workspace"),
        "git_commit": run.data.tags.get("mlflow.source.git.commit", "unknown"),
        "run_id": run.info.run_id,
    }
    for metric in ("val_smape", "test_smape"):
        if metric in run.data.metrics:
            tags[metric] = f"{run.data.metrics[metric]:.4f}"
    return tags


def register_challenger(cell: str, run_id: str) -> ModelVersion:
    """Register the cell run's model as a new version and make it the challenger; on any failure
    the new version is deleted again, so that nothing is left half-registered."""
    client = MlflowClient()
    name = registered_name(cell)
    try:
        run = client.get_run(run_id)
        version = mlflow.register_model(f"runs:/{run_id}/model", name, tags=version_tags(run))
    except MlflowException as err:
        raise LoadForecastError(f"registering {name} from run {run_id}: {err.message}") from err
    try:
        client.set_registered_model_alias(name, CHALLENGER, version.version)
    except MlflowException as err:
        withdraw([version])
        message = f"registering {name} version {version.version}: {err.message}"
        raise LoadForecastError(message) from err
    return version


def withdraw(versions: list[ModelVersion]) -> None:
    """Delete versions registered by a run that then failed; report, not raise, what cannot be."""
    client = MlflowClient()
    for version in versions:
        try:
            client.delete_model_version(version.name, version.version)
        except MlflowException as err:
            log.error("could not delete %s version %s: %s", version.name, version.version, err)


def data_digest(client: MlflowClient, run_id: str) -> str | None:
    """The digest of the windows the run trained on (its logged dataset), if it logged one."""
    inputs = client.get_run(run_id).inputs
    digests = [d.dataset.digest for d in (inputs.dataset_inputs if inputs else [])]
    return digests[0] if digests else None


def promote(name: str, version: str, force: bool = False) -> list[str]:
    """Point `champion` of registered model `name` at `version`; return what was compared.

    Candidate and champion trained on the same windows (their logged dataset's digest) were
    scored on the same validation origins: a candidate with a higher `val_smape` is refused,
    with both figures, unless `force`. One trained on other data is refused unless `force`,
    since the figures are then not comparable. The comparison is recorded on the candidate's
    version (tags `promoted_over` and `promotion`), where the MLflow UI shows it.
    """
    client = MlflowClient()
    try:
        candidate = client.get_model_version(name, version)
    except MlflowException as err:
        raise LoadForecastError(f"{name} version {version}: {err.message}") from err
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    lines = []
    for role, entry in (("champion now", current), ("candidate", candidate)):
        if entry is not None:
            figure = entry.tags.get("val_smape", "unknown")
            lines.append(f"{role}: {name} version {entry.version}, val_smape {figure}")
    if current is not None and current.version != candidate.version:
        verdict = judged(client, candidate, current, force)
        tags = {"promoted_over": f"version {current.version}", "promotion": verdict}
        for key, value in tags.items():
            client.set_model_version_tag(name, candidate.version, key, value)
        lines.append(f"{name} version {candidate.version}: {verdict}")
    client.set_registered_model_alias(name, CHAMPION, candidate.version)
    lines.append(f"{name}@{CHAMPION} -> version {candidate.version}")
    return lines


def judged(
    client: MlflowClient, candidate: ModelVersion, champion: ModelVersion, force: bool
) -> str:
    """How `candidate` compares with `champion` (one line), or an error when it may not replace
    it and `force` is not given."""
    name, version = candidate.name, candidate.version
    data, champion_data = (data_digest(client, v.run_id) for v in (candidate, champion))
    if data != champion_data:
        if not force:
            raise LoadForecastError(
                f"{name} version {version} was trained on data {data}, the champion (version "
                f"{champion.version}) on {champion_data}: their val_smape are not comparable; "
                "promote it anyway with --force"
            )
        return f"forced: trained on other data than version {champion.version}"
    mine, theirs = (v.tags.get("val_smape") for v in (candidate, champion))
    if mine is None or theirs is None:
        if not force:
            raise LoadForecastError(
                f"{name}: version {version} has val_smape {mine}, the champion (version "
                f"{champion.version}) {theirs}: nothing to compare them on (a run without a "
                "validation part); promote it anyway with --force"
            )
        return f"forced: no validation figure to compare with version {champion.version}"
    same = "on the same validation origins"
    if float(mine) > float(theirs):
        if not force:
            raise LoadForecastError(
                f"{name} version {version} has val_smape {mine}, worse than the champion's "
                f"(version {champion.version}) {theirs} {same}; promote it anyway with --force"
            )
        return f"forced: val_smape {mine} against {theirs} of version {champion.version} {same}"
    return f"val_smape {mine} against {theirs} of version {champion.version} {same}"
