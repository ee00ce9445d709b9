"""Atomic output: a run writes into ``OUT/.staging-<run_id>/`` and its files are
moved into ``OUT`` only once the run is complete.

Two ways to commit:

* ``promote_incremental``: the run's shards join those of earlier nights under
  names that carry the run id (``records-<run_id>-00000-of-00002.jsonl``), so
  nothing is overwritten; rows an input had in an earlier shard (reprocessed
  after a version change, ``--force`` or ``--retry-dead-letters``) are removed
  from that shard afterwards (``drop_rows``), each shard rewritten through a
  temporary file and ``os.replace``. The ledger's commit (``Ledger.commit_run``)
  comes first and is the commit point: a run killed before it left only its
  staging directory, which the next run deletes (its inputs are still
  unprocessed in the ledger, so they are selected again); a run killed after
  it is rolled forward (its staged files moved, pending row removals done).
* ``promote_replace`` (a run without ``--incremental``): the new files replace
  all the old ones. A manifest written first lets the next run finish a
  replacement that was killed halfway.

Every step is idempotent, so recovery is "do the step again".
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from typing import Dict, Iterable, Iterator, List, Set, Tuple

OUTPUT_GLOBS = ("records-*.jsonl", "dead_letters-*.jsonl")
STAGING_PREFIX = ".staging-"
MANIFEST = "COMMITTING.json"


def staging_dir(output: str, run_id: str) -> str:
    return os.path.join(output, f"{STAGING_PREFIX}{run_id}")


def prepare(output: str, run_id: str) -> str:
    path = staging_dir(output, run_id)
    os.makedirs(path, exist_ok=True)
    return path


def staged_files(staging: str) -> List[str]:
    """Basenames of the finished shards in a staging directory (never Beam's temporary files)."""
    names = set()
    for pattern in OUTPUT_GLOBS:
        names.update(os.path.basename(p) for p in glob.glob(os.path.join(staging, pattern)))
    return sorted(names)


def final_name(name: str, run_id: str) -> str:
    """``records-00000-of-00002.jsonl`` -> ``records-<run_id>-00000-of-00002.jsonl``."""
    kind, rest = name.split("-", 1)
    return f"{kind}-{run_id}-{rest}"


def read_rows(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def outcomes(staging: str, run_id: str) -> Iterator[Tuple[str, dict, str]]:
    """(kind, row, final file name) for every row the run wrote; kind is ``records`` or ``dead_letters``."""
    for name in staged_files(staging):
        kind = name.split("-", 1)[0]
        for row in read_rows(os.path.join(staging, name)):
            yield kind, row, final_name(name, run_id)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def promote_incremental(staging: str, output: str, run_id: str) -> List[str]:
    """Move the staged shards into OUT under run-specific names; returns the final names. Idempotent."""
    moved = []
    for name in staged_files(staging):
        source = os.path.join(staging, name)
        if os.path.getsize(source) == 0:  # an empty shard (Beam writes one for an empty collection): nothing to keep
            os.remove(source)
            continue
        target = final_name(name, run_id)
        os.replace(source, os.path.join(output, target))
        moved.append(target)
    _fsync_dir(output)
    return moved


def drop_rows(path: str, uris: Set[str]) -> int:
    """Rewrite a shard without the rows of ``uris`` (atomically); a shard left empty is removed."""
    if not os.path.exists(path):
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if json.loads(line).get("source_uri") in uris:
                dropped += 1
            else:
                kept.append(line if line.endswith("\n") else line + "\n")
    if not dropped:
        return 0
    if not kept:
        os.remove(path)
        return dropped
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(kept)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return dropped


def apply_cleanups(ledger, output: str) -> int:
    """Remove superseded rows recorded in the ledger; each shard's entry is deleted once it is rewritten."""
    dropped = 0
    for output_file, uris in sorted(ledger.cleanups().items()):
        dropped += drop_rows(os.path.join(output, output_file), uris)
        ledger.cleanup_done(output_file)
    return dropped


def old_outputs(output: str) -> List[str]:
    names = set()
    for pattern in OUTPUT_GLOBS:
        names.update(os.path.basename(p) for p in glob.glob(os.path.join(output, pattern)))
    return sorted(names)


def promote_replace(staging: str, output: str) -> List[str]:
    """The staged shards replace every shard in OUT. Resumable: the manifest says what the new set is."""
    manifest_path = os.path.join(staging, MANIFEST)
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fh:
            names = json.load(fh)
    else:
        names = staged_files(staging)
        tmp = manifest_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(names, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, manifest_path)
    for old in old_outputs(output):
        if old not in names:
            os.remove(os.path.join(output, old))
    for name in names:
        src = os.path.join(staging, name)
        if os.path.exists(src):
            os.replace(src, os.path.join(output, name))
    _fsync_dir(output)
    return names


def write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def leftover_stagings(output: str) -> Iterable[str]:
    return sorted(glob.glob(os.path.join(output, STAGING_PREFIX + "*")))


def recover_incremental(ledger, output: str) -> Dict[str, object]:
    """Called with the lock held, before a run selects its inputs: finish or undo what a killed run left."""
    report: Dict[str, object] = {"rolled_back": [], "rolled_forward": [], "rows_removed": 0}
    for run in ledger.runs("running"):
        if run["staging"]:
            remove_tree(run["staging"])
        ledger.set_run_status(run["run_id"], "abandoned")
        report["rolled_back"].append(run["run_id"])
    for run in ledger.runs("committed"):
        if run["staging"] and os.path.isdir(run["staging"]):
            promote_incremental(run["staging"], output, run["run_id"])
        report["rolled_forward"].append(run["run_id"])
    report["rows_removed"] = apply_cleanups(ledger, output)
    for run in ledger.runs("committed"):
        if run["staging"]:
            remove_tree(run["staging"])
        ledger.set_run_status(run["run_id"], "done")
    for path in leftover_stagings(output):  # staging without a ledger row: nothing of it was committed
        remove_tree(path)
    return report


def recover_replace(output: str) -> Dict[str, object]:
    """Without a ledger: finish a replacement that had started (it has a manifest), drop any other staging."""
    report: Dict[str, object] = {"rolled_back": [], "rolled_forward": []}
    for path in leftover_stagings(output):
        run_id = os.path.basename(path)[len(STAGING_PREFIX):]
        if os.path.exists(os.path.join(path, MANIFEST)):
            promote_replace(path, output)
            report["rolled_forward"].append(run_id)
        else:
            report["rolled_back"].append(run_id)
        remove_tree(path)
    return report
