"""Manufacturing rules: the manifest only, until the issues that build its behaviour."""

from __future__ import annotations

from pathlib import Path

from turnout.rules.pack import Pack

pack = Pack.from_folder(Path(__file__).parent)
