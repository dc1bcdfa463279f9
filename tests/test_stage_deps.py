"""Each DVC stage depends on every module of this package its code can import, so that a change
to any of them reruns the stage (and nothing stale is reported as up to date)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def imported_stages(module: str) -> set[str]:
    """`stages.<name>` modules that `module` imports, at the top or inside a function."""
    tree = ast.parse((REPO / f"{module.replace('.', '/')}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("stages.")}
        elif isinstance(node, ast.ImportFrom) and node.module == "stages":
            found |= {f"stages.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stages."):
            found.add(node.module)
    return found


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported_stages(current))
    return seen


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_depends_on_every_module_it_imports(name: str) -> None:
    stage = STAGES[name].get("do", STAGES[name])  # a foreach stage's template
    (module,) = re.findall(r"python -m (stages\.\w+)", stage["cmd"])
    deps = {d for d in stage["deps"] if d.startswith("stages/")}
    needed = {f"{m.replace('.', '/')}.py" for m in reachable(module)}
    assert needed - deps == set(), f"{name}: add to deps"
    assert deps - needed == set(), f"{name}: deps it does not import"
