"""The plugin registry: sources, sinks, OCR engines and field extractors.

Built-ins are registered exactly like third-party plugins, through entry points
in setup.py, so there is one way in. The registry holds names, not objects: a
DoFn pickles the *name* of its engine and looks the class up on the worker,
so nothing unpicklable travels with the pipeline.

The hooks each kind of plugin provides (duck-typed; subclassing is optional):

* **OCR engine** (``paperbeam.ocr_engines``): see ``paperbeam.models.ocr.base.OcrEngine``.
* **Extractor** (``paperbeam.extractors``): see ``paperbeam.models.extractors.base.FieldExtractor``.
* **Source** (``paperbeam.sources``): a class with ``name``;
  ``from_uri(location, options, run)`` (classmethod; ``run`` is the RunConfig)
  building a picklable config object; ``precheck()`` run before the pipeline
  starts; ``transform()`` a PTransform ``PBegin -> {"documents": SourceDocument,
  "dead_letters": DeadLetter}``; optionally ``open_uri(uri) -> bytes``
  (staticmethod) when its documents have URIs of the form ``<name>:...`` that a
  page-reading worker must re-open (see ``paperbeam.connectors.openers``).
* **Sink** (``paperbeam.sinks``): a class with ``name``; ``from_uri(location,
  options, run)``; ``precheck()``; ``records()`` a PTransform over ``Record``s;
  ``dead_letters()`` a PTransform over ``DeadLetter``s, or None when the sink
  cannot hold them.

``paperbeam.testing.contract`` checks a plugin against these hooks.
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


def _kind(group: str) -> str:
    return group[:-1].replace("_", " ")


def _where(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{ep.value} from {dist.name} {dist.version}" if dist else ep.value


@lru_cache(maxsize=None)
def _entry_points(group: str) -> Dict[str, object]:
    if group not in GROUPS:
        raise ConfigError(f"Unknown plugin group '{group}'. Known: {', '.join(GROUPS)}.")
    found: Dict[str, object] = {}
    for ep in entry_points(group=GROUPS[group]):
        if ep.name in found and found[ep.name].value != ep.value:
            raise ConfigError(
                f"Two installed packages register a {_kind(group)} named '{ep.name}' "
                f"({_where(found[ep.name])} and {_where(ep)}); uninstall one of them."
            )
        found[ep.name] = ep
    return found


def reset() -> None:
    """Forget what was found, so packages installed since are seen (tests, notebooks)."""
    _entry_points.cache_clear()


def names(group: str) -> List[str]:
    """The registered names in a group, sorted."""
    return sorted(_entry_points(group))


def load(group: str, name: str):
    """The class registered under ``name``; an unknown name lists the known ones."""
    eps = _entry_points(group)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise ConfigError(f"Unknown {_kind(group)} '{name}'. Known: {known}.")
    try:
        return eps[name].load()
    except ImportError as exc:
        raise ConfigError(
            f"The {_kind(group)} '{name}' ({_where(eps[name])}) cannot be imported: {exc}. "
            "Install the package's missing dependencies (see `paperbeam plugins`)."
        )


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


def build(group: str, spec, run):
    """A source or sink from a ``ConnectorSpec`` (URI + options), its config checked
    now (not on the workers). ``run`` is the RunConfig."""
    from paperbeam.connectors.config import options_of

    name, location, options = options_of(spec)
    cls = load(group, name)
    return cls.from_uri(location, options, run)
