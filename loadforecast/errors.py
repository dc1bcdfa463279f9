"""Errors meant for people: one line naming the file, line or value, and no traceback."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable


class LoadForecastError(Exception):
    """Bad input or configuration that the user can fix; the message says what and where."""


def run_command(main: Callable[[], None]) -> None:
    """Run a command's main(): a LoadForecastError exits with status 1 and its message alone.

    Set PIPELINE_VERBOSE=1 to see the traceback as well.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except LoadForecastError as err:
        if os.environ.get("PIPELINE_VERBOSE"):
            logging.exception("command failed")
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
