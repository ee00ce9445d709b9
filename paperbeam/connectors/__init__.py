"""Connectors: one module per source or sink, each found through the plugin
registry by name (the part of its URI before ``:``).

``Connectors`` is what a run reads from and writes to beyond the defaults
(files from --input; JSON Lines records and dead letters in --output, which
are always written because the summary counts from them). It is built, and
every connector's ``precheck()`` run, before the pipeline starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional


@dataclass
class Connectors:
    source: Optional[Any] = None  # None: files from --input
    sinks: List[Any] = field(default_factory=list)  # records also go here
    dead_letter_sinks: List[Any] = field(default_factory=list)  # dead letters also go here

    @classmethod
    def from_specs(cls, run, source=None, sinks=(), dead_letter_sinks=()) -> "Connectors":
        """Build every connector from its ``ConnectorSpec`` (config errors surface now)."""
        from paperbeam import plugins

        return cls(
            source=plugins.build("sources", source, run) if source is not None else None,
            sinks=[plugins.build("sinks", s, run) for s in sinks],
            dead_letter_sinks=[plugins.build("sinks", s, run) for s in dead_letter_sinks],
        )

    def precheck(self) -> None:
        """Every connector's precheck: a wrong password or an unreachable host fails here, in seconds."""
        if self.source is not None:
            self.source.precheck()
        for sink in self.sinks:
            sink.precheck()
        for sink in self.dead_letter_sinks:
            if getattr(sink, "dead_letters", None) is None or sink.dead_letters() is None:
                from paperbeam.errors import ConfigError

                raise ConfigError(f"The {sink.name} sink cannot hold dead letters; choose another --dead-letter-sink.")
            getattr(sink, "precheck_dead_letters", sink.precheck)()

    def describe(self) -> dict:
        return {
            "source": repr(self.source) if self.source is not None else None,
            "sinks": [repr(s) for s in self.sinks],
            "dead_letter_sinks": [repr(s) for s in self.dead_letter_sinks],
        }
