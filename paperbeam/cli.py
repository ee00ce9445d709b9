"""The command line. The only place exceptions become exit codes and messages.

Each subcommand lives in ``paperbeam/commands/<name>.py`` with a
``register(subparsers)`` that adds its parser and sets ``func``; heavy imports
happen inside ``func`` so ``paperbeam --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from paperbeam import __version__
from paperbeam.errors import ExitCode, PaperbeamError

def command_modules() -> List[str]:
    """Every module in paperbeam/commands is a subcommand: adding one needs no edit here."""
    import pkgutil

    import paperbeam.commands

    return sorted(m.name for m in pkgutil.iter_modules(paperbeam.commands.__path__) if not m.name.startswith("_"))

log = logging.getLogger("paperbeam")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperbeam",
        description="Turn invoices, receipts and forms (PDF, scans, photos) into structured records, on Apache Beam.",
    )
    parser.add_argument("--version", action="version", version=f"paperbeam {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="How much to log (default WARNING). Document text is only ever logged at DEBUG.",
    )
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"],
        help="text (default) or json: one JSON object per line on stderr, for machines (also `run --log-format`).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in command_modules():
        importlib.import_module(f"paperbeam.commands.{name}").register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from paperbeam.logging_setup import configure

    configure(args.log_level, args.log_format)
    try:
        return int(args.func(args, extra))
    except PaperbeamError as exc:
        print(f"paperbeam: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("paperbeam: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: say what happened, with the trace
        log.exception("internal error")
        if worker_died(exc):
            print("paperbeam: a worker process died mid-run (killed by the kernel's out-of-memory killer, a signal, or a "
                  "crash in a native library). Nothing from this run was committed; running the same command again "
                  "resumes and gives each input exactly once. If it keeps happening, run fewer --workers or lower "
                  "--max-pixels / --dpi.", file=sys.stderr)
        else:
            print("paperbeam: internal error (a bug); the trace is above. Please report it.", file=sys.stderr)
        return int(ExitCode.INTERNAL)


# How Beam's runners report a worker process that vanished (measured: FnApiRunner on Beam 2.77 says the first).
WORKER_DEATH = ("Channel closed prematurely", "worker process died", "BrokenProcessPool", "KilledWorker")


def worker_died(exc: BaseException) -> bool:
    """True when ``exc`` (or one it was raised from) is a runner's report of a dead worker, not a bug of ours."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = f"{type(exc).__name__}: {exc}"
        if any(mark in text for mark in WORKER_DEATH):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
