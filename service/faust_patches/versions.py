"""The start-up check that faust-streaming and aiokafka are the versions the patches were written for.

The patches copy and override private Faust and aiokafka code; another
version may have moved it, and then the worker could lose input without an
error. The pins are the service's own requirements (pyproject.toml, read
back from the installed package's metadata, or from pyproject.toml itself
when running from a checkout that was never installed).
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

from ..core.rulebook import ConfigError

log = logging.getLogger(__name__)

DISTRIBUTION = "utility-risk-warnings"
PATCHED = ("faust-streaming", "aiokafka")  # the packages service/faust_patches reaches into
ALLOW_SETTING = "RISK_ALLOW_UNPINNED_FAUST"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pinned_versions(requires: list[str] | None) -> dict[str, str]:
    """`name -> version` of each exact (`==`) pin among the base requirements (no extras)."""
    pins = {}
    for line in requires or ():
        pin = _EXACT_PIN.match(line)
        if pin and "extra" not in (pin["marker"] or ""):
            pins[re.sub(r"[-_.]+", "-", pin["name"]).lower()] = pin["version"]
    return pins


# "name==version" or "name[extra]==version; marker", as pip writes Requires-Dist (PEP 508, exact pins only)
_EXACT_PIN = re.compile(r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*"
                        r"(?P<version>[^\s;,]+)\s*(?:;(?P<marker>.*))?$")


def service_requirements() -> list[str]:
    """The service's requirements: its installed metadata, else the checkout's pyproject.toml."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        requires = None
    if requires is None and PYPROJECT.is_file():
        requires = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return requires or []


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def mismatches(requires: list[str], installed: Callable[[str], str | None] = installed_version,
               packages: tuple[str, ...] = PATCHED) -> list[tuple[str, str | None, str | None]]:
    """(package, pinned, installed) of each patched package whose installed version is not its pin."""
    pins = pinned_versions(requires)
    found = []
    for name in packages:
        pinned, have = pins.get(name), installed(name)
        if pinned is None or have != pinned:
            found.append((name, pinned, have))
    return found


def check_pinned_versions(allow: bool, requires: list[str] | None = None,
                          installed: Callable[[str], str | None] | None = None) -> None:
    """Raise ConfigError when faust-streaming or aiokafka is not the pinned version (unless `allow`)."""
    found = mismatches(service_requirements() if requires is None else requires, installed or installed_version)
    if not found:
        return
    what = "; ".join(f"{name}: pinned {pinned or '(no exact pin)'}, installed {have or '(not installed)'}"
                     for name, pinned, have in found)
    if allow:
        log.warning("running with unpinned Kafka libraries (%s=true): %s; service/faust_patches "
                    "was written for the pinned versions", ALLOW_SETTING, what)
        return
    raise ConfigError(f"{what}. service/faust_patches overrides private code of these packages and was "
                      f"checked only against the pinned versions: install them (pip install -e .), or set "
                      f"{ALLOW_SETTING}=true (setting allow_unpinned_faust) to run anyway")
