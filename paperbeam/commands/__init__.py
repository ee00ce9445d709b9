"""Subcommands of the paperbeam CLI, one module each."""
