"""The documentation holds together: every relative link in README.md and docs/*.md names a file
that exists, every `#anchor` names a heading of the page it points into (GitHub's slugs), and the
README stays short enough to read first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINES = 200

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def without_code(text: str) -> str:
    """The text with fenced blocks and inline code removed: links and headings there are not."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: a link's text kept, lowercase, punctuation but hyphens,
    underscores and spaces removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor in `page`; a repeated heading gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(f"{base}-{count}" if count else base)
        seen[base] = count + 1
    return found


def dead_links(page: Path) -> list[str]:
    """The relative links of `page` whose file is missing or whose anchor names no heading."""
    dead = []
    for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            dead.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            dead.append(f"{target}: no heading #{anchor} in {path or page.name}")
    return dead


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert dead_links(page) == []


def test_the_readme_is_short() -> None:
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_slugs_follow_github() -> None:
    assert slug("Training on a GPU (train)") == "training-on-a-gpu-train"
    assert slug("The `loadforecast forecast` command") == "the-loadforecast-forecast-command"
    assert slug("Results, 2026-12-03: one hour & a day") == "results-2026-12-03-one-hour--a-day"
