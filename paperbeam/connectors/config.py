"""What every connector shares: how it is named on the command line (a URI plus
options), how its secrets arrive (environment variables or files, never the
command line), and a config model that never prints them.

A connector is chosen by the part of its URI before the first ``:``, which is
its name in the plugin registry::

    csv                                  -> the csv sink, in --output
    parquet:/data/out                    -> the parquet sink, in /data/out
    parquet:gs://bucket/out              -> any Beam filesystem after the name
    zip:/data/archives/*.zip             -> the zip source
    postgresql://app@db:5432/acct?password_env=PGPASSWORD&table=invoices

Query parameters (``?k=v&k2=v2``) and options from a YAML config are merged,
the query winning. ``<secret>_env=VAR`` and ``<secret>_file=PATH`` name where a
secret is; a secret written into the URI itself is refused, because a command
line ends up in shell history, ``ps`` output and CI logs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

from paperbeam.errors import ConfigError
from paperbeam.pipelines.options import Secret

__all__ = ["Secret", "ConnectorSpec", "ConnectorConfig", "split_uri", "parse_query", "secret_from", "load_yaml", "as_bool", "as_int"]

# Option names that are secrets: refused as literal values anywhere.
SECRET_NAMES = ("password", "passwd", "secret", "token", "key", "api_key", "access_key", "secret_key")


def split_uri(uri: str) -> Tuple[str, str]:
    """``name:location`` -> ``(name, location)``; a bare ``name`` has an empty location.

    ``name:///abs`` and ``name:/abs`` both give ``/abs``; ``name://host/...``
    (a network URI such as postgresql) keeps the ``//``.
    """
    uri = uri.strip()
    if not uri:
        raise ConfigError("An empty connector URI. Give a name (e.g. csv) or name:location (e.g. csv:/data/out).")
    if ":" not in uri.split("?", 1)[0]:
        name, _, query = uri.partition("?")
        return name.lower(), f"?{query}" if query else ""
    name, rest = uri.split(":", 1)
    if len(name) == 1 and os.name == "nt":  # C:\path
        return "", uri
    if rest.startswith("///"):
        rest = rest[2:]
    return name.lower(), rest


def parse_query(location: str) -> Tuple[str, Dict[str, str]]:
    """``path?k=v&k2=v2`` -> ``(path, {k: v, ...})``. A repeated key is an error."""
    if "?" not in location:
        return location, {}
    path, query = location.split("?", 1)
    params: Dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params:
            raise ConfigError(f"The option '{key}' is given twice in {redact_uri(location)}.")
        params[key] = value
    return path, params


def redact_uri(uri: str) -> str:
    """The URI with any ``user:password@`` and secret-looking query values masked."""
    import re

    uri = re.sub(r"(://[^/@:]*):[^@/]*@", r"\1:***@", uri)
    return re.sub(r"((?:%s)=)[^&]*" % "|".join(SECRET_NAMES), r"\1***", uri, flags=re.I)


def refuse_literal_secrets(options: Dict[str, Any], where: str) -> None:
    for key in options:
        if key.lower() in SECRET_NAMES:
            raise ConfigError(
                f"{where}: '{key}' is a secret and may not be written into a URI or config file. "
                f"Use {key}_env=VARIABLE (an environment variable) or {key}_file=PATH (a file holding it)."
            )


def secret_from(options: Dict[str, Any], name: str, where: str, default_env: Optional[str] = None) -> Secret:
    """The secret ``name`` from ``<name>_env`` (an environment variable) or ``<name>_file`` (a file).

    Both options are removed from ``options``. A named variable that is unset or
    a file that cannot be read is a ConfigError naming the variable or file,
    never the value. With neither option, ``default_env`` (if set) is tried.
    """
    env = options.pop(f"{name}_env", None)
    path = options.pop(f"{name}_file", None)
    if env and path:
        raise ConfigError(f"{where}: give {name}_env or {name}_file, not both.")
    if path:
        try:
            with open(os.path.expanduser(str(path)), encoding="utf-8") as fh:
                return Secret(fh.read().strip("\r\n"))
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {name}_file {path}: {exc.strerror}.")
    if env:
        if env not in os.environ:
            raise ConfigError(f"{where}: {name}_env names the environment variable {env}, which is not set.")
        return Secret(os.environ[env])
    if default_env and default_env in os.environ:
        return Secret(os.environ[default_env])
    return Secret(None)


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"Option '{name}' must be true or false, not '{value}'.")


def as_int(value: Any, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Option '{name}' must be a whole number, not '{value}'.")
    if number < minimum:
        raise ConfigError(f"Option '{name}' must be at least {minimum}, not {number}.")
    return number


def reject_unknown(options: Dict[str, Any], known, where: str) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}. Known: {', '.join(sorted(known)) or 'none'}.")


@dataclass
class ConnectorConfig:
    """Base of connector config models: a repr and a report that mask every ``Secret``."""

    def to_report(self) -> Dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = "***" if value else None
            elif hasattr(value, "name") and hasattr(value, "fields"):  # a Schema
                value = value.name
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.to_report().items())
        return f"{type(self).__name__}({inner})"

    __str__ = __repr__


@dataclass
class ConnectorSpec:
    """A connector as the user named it: a URI and options. Picklable, secret-free
    (secrets are resolved when the connector is built, into ``Secret``s)."""

    uri: str
    options: Dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return split_uri(self.uri)[0]

    def __repr__(self) -> str:
        return f"ConnectorSpec({redact_uri(self.uri)!r})"


def load_yaml(path: str) -> Dict[str, Any]:
    """A connectors config file::

        source: {uri: "zip:/data/in/*.zip", max_members: 5000}
        sinks:
          - parquet:/data/out
          - {uri: "postgresql://app@db/acct", password_env: PGPASSWORD, batch_size: 1000}
        dead_letter_sink: {uri: "postgresql://app@db/acct", password_file: /run/secrets/pg, table: dead_letters}

    returns ``{"source": ConnectorSpec|None, "sinks": [ConnectorSpec], "dead_letter_sink": ConnectorSpec|None}``.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(f"Connector config file not found: {path}.")
    except yaml.YAMLError as exc:
        raise ConfigError(f"Connector config file {path} is not valid YAML: {exc}")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with source, sinks and dead_letter_sink.")
    reject_unknown(data, ("source", "sinks", "dead_letter_sink"), path)

    def spec(item, where) -> ConnectorSpec:
        if isinstance(item, str):
            return ConnectorSpec(item)
        if isinstance(item, dict) and item.get("uri"):
            options = {k: v for k, v in item.items() if k != "uri"}
            refuse_literal_secrets(options, f"{path}: {where}")
            return ConnectorSpec(str(item["uri"]), options)
        raise ConfigError(f"{path}: {where} must be a URI or a mapping with 'uri'.")

    sinks = data.get("sinks") or []
    if not isinstance(sinks, list):
        sinks = [sinks]
    return {
        "source": spec(data["source"], "source") if data.get("source") else None,
        "sinks": [spec(s, f"sinks[{i}]") for i, s in enumerate(sinks)],
        "dead_letter_sink": spec(data["dead_letter_sink"], "dead_letter_sink") if data.get("dead_letter_sink") else None,
    }


def options_of(spec: ConnectorSpec) -> Tuple[str, str, Dict[str, Any]]:
    """``(name, location, options)`` from a spec: the URI's query merged over its options."""
    name, location = split_uri(spec.uri)
    location, query = parse_query(location)
    refuse_literal_secrets(query, redact_uri(spec.uri))
    merged = dict(spec.options)
    merged.update(query)
    return name, location, merged


def describe_specs(specs: List[ConnectorSpec]) -> List[str]:
    return [redact_uri(s.uri) for s in specs]
