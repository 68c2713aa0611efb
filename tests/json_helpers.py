"""Reading JSON outputs as strict, standard JSON: a bare NaN or Infinity is an error."""

from __future__ import annotations

import json
from pathlib import Path


def _refuse(constant: str):
    raise ValueError(f"{constant} is not standard JSON")


def strict_json(path: Path):
    """The content of ``path``, parsed as standard JSON (no NaN, Infinity or -Infinity)."""
    return json.loads(Path(path).read_text(), parse_constant=_refuse)


def strict_json_tree(folder: Path) -> int:
    """Parse every ``*.json`` below ``folder`` strictly; returns how many there are."""
    paths = sorted(Path(folder).rglob("*.json"))
    for path in paths:
        strict_json(path)
    return len(paths)
