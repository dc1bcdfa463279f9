"""Each DVC stage depends on every module of this repository its code can import (the stage's
own, `stages/` and the `loadforecast` library), so that a change to any of them reruns the stage
and nothing stale is reported as up to date; and on nothing it does not import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests import REPO

PACKAGES = ("stages", "loadforecast")


def source(module: str) -> Path | None:
    """The file of `module` (a package's `__init__.py`), if it is one of ours."""
    for path in (
        REPO / f"{module.replace('.', '/')}.py",
        REPO / module.replace(".", "/") / "__init__.py",
    ):
        if path.is_file():
            return path
    return None


def imported(module: str) -> set[str]:
    """Our modules that `module` imports, at the top or inside a function, with the packages
    that hold them (importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py`)."""
    found = set()
    for node in ast.walk(ast.parse(source(module).read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            parts = name.split(".")
            if parts[0] in PACKAGES:
                found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in found if source(m) is not None}


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported(current))
    return seen


def has_code(path: Path) -> bool:
    """False for a file of a docstring only (such a package `__init__` is not listed)."""
    body = ast.parse(path.read_text()).body
    return not all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_depends_on_every_module_it_imports(name: str) -> None:
    stage = STAGES[name].get("do", STAGES[name])  # a foreach stage's template
    (module,) = re.findall(r"python -m (stages\.\w+)", stage["cmd"])
    deps = {d for d in stage["deps"] if d.split("/")[0] in PACKAGES}
    files = {source(m) for m in reachable(module)}
    needed = {str(f.relative_to(REPO)) for f in files if has_code(f)}
    assert needed - deps == set(), f"{name}: add to deps"
    assert deps - needed == set(), f"{name}: deps it does not import"


def test_the_library_imports_nothing_of_the_pipeline() -> None:
    library = [p for p in (REPO / "loadforecast").rglob("*.py")]
    for path in library:
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        assert not {m for m in imported(module) if m.startswith("stages")}, path
        assert "import dvc" not in path.read_text() and "from dvc" not in path.read_text(), path
