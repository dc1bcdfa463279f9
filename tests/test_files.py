from pathlib import Path

import pytest

from loadforecast.files import atomic_path
from stages.repo import stage_params, user_repo_root
from tests import REPO


def test_experiment_copies_resolve_to_the_user_repository(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12" / "sub"
    assert user_repo_root(copy) == (tmp_path / "repo").resolve()
    assert user_repo_root(tmp_path / "repo") == (tmp_path / "repo").resolve()


def test_a_stage_takes_a_relative_init_from_from_the_user_repository(tmp_path, monkeypatch):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12"
    copy.mkdir(parents=True)
    settings = (REPO / "params.yaml").read_text()
    (copy / "params.yaml").write_text(settings.replace("init_from: null", "init_from: starts/pjm"))
    monkeypatch.chdir(copy)
    assert stage_params().train.init_from == str((tmp_path / "repo" / "starts" / "pjm").resolve())
    (copy / "params.yaml").write_text(settings)
    assert stage_params().train.init_from is None


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_replaces_directories_whole(tmp_path: Path):
    target = tmp_path / "dir"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "fresh").write_text("y")
    assert [p.name for p in target.iterdir()] == ["fresh"]
