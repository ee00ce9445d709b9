"""The plugin registry: sources, sinks, OCR engines and field extractors.

Built-ins are registered exactly like third-party plugins, through entry points
in setup.py, so there is one way in. The registry holds names, not objects: a
DoFn pickles the *name* of its engine and looks the class up on the worker,
so nothing unpicklable travels with the pipeline.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Dict, List

from paperbeam.errors import ConfigError

GROUPS = {
    "sources": "paperbeam.sources",
    "sinks": "paperbeam.sinks",
    "ocr_engines": "paperbeam.ocr_engines",
    "extractors": "paperbeam.extractors",
}


@lru_cache(maxsize=None)
def _entry_points(group: str) -> Dict[str, object]:
    found: Dict[str, object] = {}
    for ep in entry_points(group=GROUPS[group]):
        if ep.name in found and found[ep.name].value != ep.value:
            raise ConfigError(
                f"Two installed packages register a {group[:-1].replace('_', ' ')} named '{ep.name}' "
                f"({found[ep.name].value} and {ep.value}); uninstall one of them."
            )
        found[ep.name] = ep
    return found


def names(group: str) -> List[str]:
    """The registered names in a group, sorted."""
    return sorted(_entry_points(group))


def load(group: str, name: str):
    """The class registered under ``name``; an unknown name lists the known ones."""
    eps = _entry_points(group)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise ConfigError(f"Unknown {group[:-1].replace('_', ' ')} '{name}'. Known: {known}.")
    return eps[name].load()


def describe() -> Dict[str, List[Dict[str, str]]]:
    """Every installed plugin with the package and version that provides it."""
    out: Dict[str, List[Dict[str, str]]] = {}
    for group in GROUPS:
        rows = []
        for name, ep in sorted(_entry_points(group).items()):
            dist = getattr(ep, "dist", None)
            rows.append({
                "name": name,
                "target": ep.value,
                "package": dist.name if dist else "?",
                "version": dist.version if dist else "?",
            })
        out[group] = rows
    return out
