"""Write a measured self-host plan into the user's pricing file (TOML), keeping everything else in it.

The file is edited with tomlkit so the user's comments, order and other entries survive; a `[[plans]]` entry
with the same name is replaced where it stands, otherwise the plan is appended. The new text is written to a
temporary file in the same folder and renamed over the old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Table


class PlanFileError(Exception):
    """The pricing file cannot be read or written; the message names the file."""


def load(path: Path) -> tomlkit.TOMLDocument:
    """The pricing file as an editable document (empty when the file does not exist yet)."""
    if not path.exists():
        if not path.parent.is_dir():
            raise PlanFileError(f"--pricing-file {path}: folder {path.parent} does not exist")
        return tomlkit.document()
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"--pricing-file {path}: cannot read it ({exc})") from exc
    except TOMLKitError as exc:
        raise PlanFileError(
            f"--pricing-file {path} is not valid TOML ({exc}); fix it or choose another file"
        ) from exc
    plans = doc.get("plans")
    if plans is not None and not isinstance(plans, AoT):
        raise PlanFileError(f"--pricing-file {path}: `plans` must be an array of tables ([[plans]] sections)")
    return doc


def _table(plan: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in plan.items():
        if value is None:
            continue
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update({k: v for k, v in value.items() if v is not None})
            table.add(key, inline)
        else:
            table.add(key, value)
    return table


def put_plan(doc: tomlkit.TOMLDocument, plan: dict[str, Any]) -> bool:
    """Put `plan` into `doc`; True when it replaced an entry of the same name."""
    table = _table(plan)
    plans = doc.get("plans")
    if plans is None:
        if len(doc):
            doc.add(tomlkit.nl())
        plans = tomlkit.aot()
        doc.append("plans", plans)
    for index, existing in enumerate(plans):
        if existing.get("name") == plan["name"]:
            plans[index] = table
            return True
    plans.append(table)
    return False


def write_atomic(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_plan(path: Path, plan: dict[str, Any]) -> bool:
    """Write `plan` into the pricing file at `path`; True when an existing plan of that name was replaced."""
    doc = load(path)
    replaced = put_plan(doc, plan)
    try:
        write_atomic(path, tomlkit.dumps(doc))
    except OSError as exc:
        raise PlanFileError(f"--pricing-file {path}: cannot write it ({exc})") from exc
    return replaced
