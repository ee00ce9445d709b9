"""``paperbeam plugins``: what is installed, in every group, with the package and
version that provides each plugin, and whether it can be imported here."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plugins",
        help="list the installed sources, sinks, OCR engines and extractors",
        description="List every plugin registered through the paperbeam.* entry-point groups, "
        "with the package and version providing it. Third-party plugins install with pip.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--check", action="store_true", help="import every plugin and report those that cannot be imported (exit 2 if any)")
    p.set_defaults(func=run)


def run(args, extra) -> int:
    import json

    from paperbeam import plugins
    from paperbeam.errors import ConfigError, ExitCode

    table = plugins.describe()
    broken = 0
    if args.check:
        for group, rows in table.items():
            for row in rows:
                try:
                    plugins.load(group, row["name"])
                    row["status"] = "ok"
                except ConfigError as exc:
                    row["status"] = f"error: {exc}"
                    broken += 1
    if args.json:
        print(json.dumps(table, indent=2, sort_keys=True))
    else:
        for group, rows in table.items():
            print(f"{group.replace('_', ' ')} ({plugins.GROUPS[group]}):")
            if not rows:
                print("  (none)")
            width = max((len(r["name"]) for r in rows), default=0)
            for r in rows:
                status = f"  [{r['status']}]" if "status" in r else ""
                print(f"  {r['name']:<{width}}  {r['package']} {r['version']}  {r['target']}{status}")
    return int(ExitCode.CONFIG) if broken else int(ExitCode.OK)
