"""Runs the real `turnout` command against the test database."""

from __future__ import annotations

import os
import subprocess
import sys


def turnout(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "turnout", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
