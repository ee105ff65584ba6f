"""The Pack protocol: what an industry pack declares (pack.toml) and adds (rules.py)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kit.errors import invalid

SETTING_TYPES = {"bool": bool, "int": int, "str": str, "choice": str}


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: str
    default: Any
    description: str = ""
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: Any, field_path: str = "value") -> Any:
        """Return the value if a tenant admin may set it, else raise InvalidInput."""
        expected = SETTING_TYPES[self.type]
        # bool is an int in Python; an int setting must not accept True.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise invalid(field_path, f"{self.key} takes a {self.type}")
        if self.min is not None and value < self.min:
            raise invalid(field_path, f"{self.key} must be at least {self.min}", "out_of_range")
        if self.max is not None and value > self.max:
            raise invalid(field_path, f"{self.key} must be at most {self.max}", "out_of_range")
        if self.type == "choice" and value not in self.choices:
            raise invalid(field_path, f"{self.key} must be one of {', '.join(self.choices)}")
        return value


@dataclass
class Pack:
    """A loaded pack: its manifest plus whatever rules.py hands over."""

    name: str
    title: str
    description: str
    features: dict[str, Any]
    settings: dict[str, SettingSpec]
    query_types: list[type] = field(default_factory=list)
    mutation_types: list[type] = field(default_factory=list)

    @classmethod
    def from_folder(cls, folder: Path, **extras: Any) -> Pack:
        manifest = tomllib.loads((folder / "pack.toml").read_text(encoding="utf-8"))
        specs = {}
        for key, raw in manifest.get("settings", {}).items():
            spec = SettingSpec(
                key=key,
                type=raw["type"],
                default=raw["default"],
                description=raw.get("description", ""),
                min=raw.get("min"),
                max=raw.get("max"),
                choices=tuple(raw.get("choices", ())),
            )
            spec.check(spec.default, f"{manifest['name']}.settings.{key}.default")
            specs[key] = spec
        return cls(
            name=manifest["name"],
            title=manifest.get("title", manifest["name"]),
            description=manifest.get("description", ""),
            features=dict(manifest.get("features", {})),
            settings=specs,
            **extras,
        )
