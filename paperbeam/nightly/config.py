"""``paperbeam run --config nightly.yaml``: every option of ``run`` can live in a
YAML file, and be overridden by an environment variable ``PAPERBEAM_<OPTION>``.

Precedence, highest first: the command line, the environment, the file, the
built-in default. Keys are the long option names, with dashes or underscores
(``max-dead-letter-ratio`` or ``max_dead_letter_ratio``); the environment
variable of ``--max-dead-letter-ratio`` is ``PAPERBEAM_MAX_DEAD_LETTER_RATIO``.
Flags take true/false. Beam pipeline options go under ``beam_args`` (a list,
or a mapping of name to value), or in ``PAPERBEAM_BEAM_ARGS`` (shell words).
An unknown key fails at once, with the closest valid name.

How "not given on the command line" is known exactly: ``defer_defaults`` moves
each option's default out of argparse (argparse then leaves it ``None``) and
``resolve`` fills in what the command line did not give.

Secrets never go in the file: passwords are read from files
(``pdf-password-file``, a ledger URL's ``?password_file=``), and the report
shows the effective configuration with any password masked.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
from typing import Dict, List, Optional, Tuple

from paperbeam.connectors.config import as_bool
from paperbeam.errors import ConfigError

ENV_PREFIX = "PAPERBEAM_"
DEFAULTS_ATTR = "_option_defaults"
RESOLVED_ATTR = "_options_resolved"
NEVER_IN_FILE = {"config", "help"}
FORBIDDEN = {"pdf_password": "put the password in a file and give its path as pdf-password-file",
             "password": "put the password in a file (pdf-password-file, or ?password_file= in a ledger URL)"}


def _key(option: str) -> str:
    return option.lstrip("-").replace("-", "_").lower()


def defer_defaults(parser: argparse.ArgumentParser) -> None:
    """Call last in ``register``: each option's default is kept aside and argparse's becomes None."""
    table: Dict[str, Tuple[str, object, argparse.Action]] = {}
    for action in parser._actions:  # argparse has no public list of actions
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not longs or action.default is argparse.SUPPRESS or action.dest in ("help", "config"):
            continue
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        table[_key(longs[0])] = (action.dest, action.default, action)
        action.default = None
        action.required = False  # --input may come from the file or the environment; resolve() checks it
    parser.set_defaults(**{DEFAULTS_ATTR: table})


def _convert(action: argparse.Action, value, where: str):
    if value is None:
        return None
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):  # flags
        return as_bool(value, where)
    if isinstance(value, (list, dict)):
        raise ConfigError(f"{where}: expected a single value, got {type(value).__name__}.")
    if isinstance(action, argparse._AppendAction):  # repeatable options take a list (or one value)
        single = argparse.Action(action.option_strings, action.dest, type=action.type, choices=action.choices)
        return [_convert(single, v, where) for v in (value if isinstance(value, list) else [value])]
    convert = action.type or str
    try:
        out = convert(value) if not isinstance(value, bool) else convert(str(value).lower())
    except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(f"{where}: {value!r} is not a valid value ({exc}).")
    if action.choices is not None and out not in action.choices:
        raise ConfigError(f"{where}: {out!r} is not one of {', '.join(map(str, action.choices))}.")
    return out


def load_file(path: str) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"Cannot read --config {path}: {exc.strerror}.")
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path} is not valid YAML: {exc}.")
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path} must be a mapping of option names to values, e.g. `input: /data/inbox`.")
    return data


def _beam_args(value, where: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            name = "--" + str(k).lstrip("-")
            out.append(name if v is True else f"{name}={v}")
        return out
    raise ConfigError(f"{where}: beam_args must be a list of options or a mapping of option to value.")


def resolve(args: argparse.Namespace, environ: Optional[Dict[str, str]] = None) -> Tuple[argparse.Namespace, List[str]]:
    """Fill the options the command line did not give from the environment, the file and the defaults.

    Returns the namespace and the Beam options from the file/environment (to go before the
    command line's). Idempotent.
    """
    if getattr(args, RESOLVED_ATTR, False):
        return args, []
    environ = os.environ if environ is None else environ
    table = getattr(args, DEFAULTS_ATTR, None) or {}
    config_path = getattr(args, "config", None) or environ.get(ENV_PREFIX + "CONFIG")
    from_file = load_file(config_path) if config_path else {}
    file_values: Dict[str, object] = {}
    beam_args: List[str] = []
    for raw_key, value in from_file.items():
        key = _key(str(raw_key))
        where = f"--config {config_path}: {raw_key}"
        if key in FORBIDDEN:
            raise ConfigError(f"{where}: secrets never go in the config file; {FORBIDDEN[key]}.")
        if key == "beam_args":
            beam_args += _beam_args(value, where)
            continue
        if key not in table or key in NEVER_IN_FILE:
            close = difflib.get_close_matches(key, list(table), n=1)
            raise ConfigError(f"{where}: unknown option" + (f"; did you mean {close[0].replace('_', '-')}?" if close else
                                                             ". See `paperbeam run --help` for the options."))
        file_values[key] = value
    if environ.get(ENV_PREFIX + "BEAM_ARGS"):
        beam_args += shlex.split(environ[ENV_PREFIX + "BEAM_ARGS"])
    for key, (dest, default, action) in table.items():
        if getattr(args, dest, None) is not None:
            continue  # given on the command line
        env_name = ENV_PREFIX + key.upper()
        if environ.get(env_name) not in (None, ""):
            setattr(args, dest, _convert(action, environ[env_name], f"environment variable {env_name}"))
        elif key in file_values:
            setattr(args, dest, _convert(action, file_values[key], f"--config {config_path}: {key}"))
        else:
            setattr(args, dest, default)
    for key in ("input", "output"):
        if key in table and getattr(args, table[key][0], None) in (None, ""):
            raise ConfigError(f"--{key} is required: give it on the command line, as `{key}:` in --config, "
                              f"or in {ENV_PREFIX}{key.upper()}.")
    args.config = config_path
    setattr(args, RESOLVED_ATTR, True)
    return args, beam_args
