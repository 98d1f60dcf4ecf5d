"""Writes the JSON Schema files in `schemas/json/` from the models, or checks them.

The files are what other teams build against, so they are committed and
must never drift from the models: `python -m schemas.generate` rewrites
them (and removes stale ones), `python -m schemas.generate --check` exits 1
and names every file that differs, is missing or is extra. Output is
deterministic (sorted keys, indent 2, trailing newline) so a diff shows only
real contract changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from .events import EVENT_TYPES, InputEvent
from .warnings import DeadLetter, Notification, RiskWarning, WarningAck

JSON_DIR = Path(__file__).parent / "json"
ID_PREFIX = "urn:utility-risk-warnings:schemas:"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SUFFIX = ".schema.json"


def _model(cls: type[BaseModel]) -> Callable[[], dict[str, Any]]:
    return lambda: cls.model_json_schema()


def _sources() -> dict[str, tuple[str, Callable[[], dict[str, Any]]]]:
    """File name -> (title, schema factory)."""
    sources: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "input-event": ("InputEvent", lambda: TypeAdapter(InputEvent).json_schema()),
    }
    for event_type, cls in EVENT_TYPES.items():
        sources[event_type] = (event_type, _model(cls))
    for name, cls in (
        ("risk-warning", RiskWarning),
        ("notification", Notification),
        ("warning-ack", WarningAck),
        ("dead-letter", DeadLetter),
    ):
        sources[name] = (cls.__name__, _model(cls))
    return {name + SUFFIX: source for name, source in sources.items()}


def render() -> dict[str, str]:
    """File name -> exact file text."""
    files = {}
    for file_name, (title, factory) in _sources().items():
        schema = factory()
        schema.update({"$schema": DIALECT, "$id": ID_PREFIX + file_name, "title": title})
        files[file_name] = json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return files


def write(directory: Path = JSON_DIR) -> list[str]:
    """Rewrite the schema files; returns the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    touched = []
    for stale in sorted(directory.glob("*" + SUFFIX)):
        if stale.name not in wanted:
            stale.unlink()
            touched.append(stale.name)
    for name, text in wanted.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            touched.append(name)
    return touched


def check(directory: Path = JSON_DIR) -> list[str]:
    """One line per problem ('differs: x', 'missing: x', 'extra: x'); empty when all match."""
    wanted = render()
    present = {p.name for p in directory.glob("*" + SUFFIX)} if directory.is_dir() else set()
    problems = []
    for name in sorted(wanted):
        if name not in present:
            problems.append(f"missing: {name}")
        elif (directory / name).read_text(encoding="utf-8") != wanted[name]:
            problems.append(f"differs: {name}")
    problems.extend(f"extra: {name}" for name in sorted(present - wanted.keys()))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the files instead of writing them")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help=f"schema directory (default {JSON_DIR})")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.dir)
        for line in problems:
            print(line)
        if problems:
            print(f"{len(problems)} schema file(s) out of date: run `python -m schemas.generate`", file=sys.stderr)
            return 1
        print(f"{len(render())} schema files up to date in {args.dir}")
        return 0
    touched = write(args.dir)
    print(f"{len(touched)} schema file(s) changed in {args.dir}" + (": " + ", ".join(touched) if touched else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
