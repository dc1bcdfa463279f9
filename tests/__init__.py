"""The tests; `REPO` is the repository's root."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
