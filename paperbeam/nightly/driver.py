"""The flow ``batch.run`` follows around the Beam pipeline.

    night = Night.start(config, files)   # lock, recover a killed run, select inputs, make the staging dir
    ... the pipeline runs over night.work (output = the staging dir, inputs = night.inputs) ...
    summary = night.commit(summary)       # ledger commit, move files into place, report, unlock

Without ``--incremental`` every matched file is processed and the new files
replace the old ones (still staged, so a killed run never leaves a mix); the
lock is then on ``OUT/.paperbeam/run.lock``. Output on an object store
(``gs://``, ``s3://``) is written in place as before: no staging, no ledger.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from typing import Dict, List, Optional

from paperbeam.errors import ConfigError
from paperbeam.nightly import commit as C
from paperbeam.nightly import incremental as I
from paperbeam.nightly.ledger import STATUS_DEAD, STATUS_RECORD, Entry, default_target, mask, open_ledger
from paperbeam.nightly.lock import FileLock

log = logging.getLogger(__name__)


def check(config) -> None:
    """Option combinations, checked before anything starts."""
    if not config.incremental:
        if config.force or config.retry_dead_letters or config.ledger:
            raise ConfigError("--force, --retry-dead-letters and --ledger only apply with --incremental.")
        if "://" not in config.output and os.path.exists(default_target(config.output)):
            raise ConfigError(
                f"{config.output} is the output of incremental runs (it has a ledger in .paperbeam/); a full run "
                "would replace the rows the ledger points at. Run with --incremental (add --force to redo everything), "
                "or choose another --output."
            )
    elif "://" in config.output:
        raise ConfigError("--incremental needs a local --output directory (staged files are moved into place with rename).")


class Night:
    def __init__(self, config, files: List[str]):
        self.config = config
        self.files = files
        self.timings: Dict[str, float] = {}
        self.ledger = None
        self.lock = None
        self.staging: Optional[str] = None
        self.selection: Optional[I.Selection] = None
        self.recovered: Dict[str, object] = {}
        self.versions: Dict[str, object] = {}
        self.versions_key = ""
        self.known: Dict[str, Entry] = {}
        self.inputs: List[I.InputFile] = []
        self.work = config
        self.adopted: List[str] = []
        self._t = time.time()

    def _lap(self, stage: str) -> None:
        t = time.time()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + t - self._t, 3)
        self._t = t

    # -- before the pipeline ---------------------------------------------------------------------
    @classmethod
    def start(cls, config, files: List[str]) -> "Night":
        night = cls(config, files)
        check(config)
        if "://" in config.output:
            from paperbeam.pipelines.summary import clear_previous_output

            clear_previous_output(config.output)
            night.inputs = [I.InputFile(f, None, None) for f in files]
            return night
        try:
            night._start()
        except BaseException:
            night.release()
            raise
        return night

    def _start(self) -> None:
        config = self.config
        if config.incremental:
            self.ledger = open_ledger(config.ledger or default_target(config.output))
            self.lock = self.ledger.lock().acquire(config.run_id)
            self.ledger.claim_output(config.output)
            self._lap("lock")
            self.recovered = C.recover_incremental(self.ledger, config.output)
            self._lap("recover")
            self.versions = I.versions(config)
            self.versions_key = I.versions_key(self.versions)
            self.known = self.ledger.known()
            if not self.known:  # a new ledger: files already in OUT (a full run's) are replaced by this first night
                self.adopted = C.old_outputs(config.output)
            listed = I.list_inputs(self.files)
            self.selection = I.select(listed, self.known, self.versions_key, config.force, config.retry_dead_letters)
            if self.selection.touched:
                self.ledger.touch(self.selection.touched)
            self.inputs = self.selection.process
            self._lap("select")
            self.staging = C.prepare(config.output, config.run_id)
            self.ledger.begin_run(config.run_id, config.output, self.staging, self.versions_key, self.versions)
        else:
            self.lock = FileLock(os.path.join(config.output, ".paperbeam", "run.lock"), "this output directory").acquire(config.run_id)
            self._lap("lock")
            self.recovered = C.recover_replace(config.output)
            self._lap("recover")
            self.inputs = [I.InputFile(f, None, None) for f in self.files]
            self.staging = C.prepare(config.output, config.run_id)
        selected = tuple((f.uri, f.size) for f in self.inputs) if config.incremental else None
        self.work = config.with_(output=self.staging, input_files=selected)
        self._lap("prepare")

    # -- after the pipeline ----------------------------------------------------------------------
    def commit(self, summary):
        """Make the run's output visible, record it, and finish the report. Returns the summary."""
        try:
            self._lap("pipeline")
            if self.staging is None:  # object-store output: written in place
                return self._finish(summary, None)
            if self.ledger is not None:
                totals = self._commit_incremental(summary)
            else:
                C.promote_replace(self.staging, self.config.output)
                C.remove_tree(self.staging)
                totals = None
            self._lap("commit")
            return self._finish(summary, totals)
        finally:
            self.release()

    def _commit_incremental(self, summary) -> Dict[str, int]:
        config, run_id = self.config, self.config.run_id
        stat = {f.uri: f for f in self.inputs}
        entries, superseded = [], {}
        for kind, row, final in C.outcomes(self.staging, run_id):
            uri = row.get("source_uri")
            f = stat.get(uri)
            if f is None:
                continue  # a row for a URI we did not select cannot be keyed; it stays in the output only
            if kind == "records":
                entry = Entry(uri, row.get("id"), f.size, f.mtime, self.versions_key, STATUS_RECORD, None, final, run_id)
            else:
                entry = Entry(uri, row.get("doc_id"), f.size, f.mtime, self.versions_key, STATUS_DEAD,
                              f"{row.get('stage')}: {row.get('error')}", final, run_id)
            entries.append(entry)
            prev = self.known.get(uri)
            if prev is not None and prev.output_file:
                superseded.setdefault(prev.output_file, []).append(uri)
        for name in self.adopted:  # every row of a file the ledger never knew goes (crash-safe: through cleanups)
            uris = [r.get("source_uri") for r in C.read_rows(os.path.join(config.output, name))]
            superseded.setdefault(name, []).extend(u for u in uris if u)
        counts = {"inputs": summary.inputs, "records": summary.records, "dead_letters": summary.dead_letters,
                  "skipped": dict(self.selection.skipped)}
        self.ledger.commit_run(run_id, entries, superseded, counts)  # the commit point
        for name in self.adopted:
            path = os.path.join(config.output, name)
            if os.path.exists(path) and os.path.getsize(path) == 0:
                os.remove(path)  # an empty shard of the full run: no rows to supersede
        C.promote_incremental(self.staging, config.output, run_id)
        C.apply_cleanups(self.ledger, config.output)
        C.remove_tree(self.staging)
        self.ledger.set_run_status(run_id, "done")
        return dict(Counter(e.status for e in self.ledger.known().values()))

    def _finish(self, summary, totals: Optional[Dict[str, int]]):
        config = self.config
        summary.output = config.output
        summary.config = config.to_report()
        by_status = {"record": summary.records, "dead_letter": summary.dead_letters}
        if self.selection is not None:
            by_status.update({f"skipped_{k}": v for k, v in self.selection.skipped.items()})
        summary.counts_by_status = by_status
        summary.stage_seconds = dict(self.timings)
        if config.incremental:
            summary.incremental = {
                "ledger": mask(config.ledger or default_target(config.output)),
                "versions_key": self.versions_key,
                "versions": self.versions,
                **self.selection.to_dict(),
                "ledger_totals": totals or {},
                "recovered": self.recovered,
            }
        elif self.recovered and (self.recovered.get("rolled_back") or self.recovered.get("rolled_forward")):
            summary.incremental = {"recovered": self.recovered}
        data = json.dumps(summary.to_dict(), indent=2, sort_keys=True).encode("utf-8")
        if "://" in config.output:
            from apache_beam.io.filesystems import FileSystems

            with FileSystems.create(os.path.join(config.output, "summary.json")) as fh:
                fh.write(data)
        else:
            C.write_atomic(os.path.join(config.output, "summary.json"), data)
        if config.run_report:
            C.write_atomic(config.run_report, data)
        return summary

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
