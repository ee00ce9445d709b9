"""Nightly runs over a folder that keeps growing: cheap when little changed,
safe to repeat, honest about what happened.

* ``ledger``      what has been processed, with which versions (SQLite file or PostgreSQL)
* ``lock``        one run at a time per ledger (an OS file lock, or a PostgreSQL advisory lock)
* ``incremental`` which inputs this run must process: a stat check first, a hash only when needed
* ``commit``      output written to a staging directory, moved into place after the ledger commit;
                  a killed run's leftovers are rolled back or forward by the next run
* ``config``      ``--config nightly.yaml`` and ``PAPERBEAM_<OPTION>`` environment overrides
* ``driver``      the flow ``batch.run`` follows: lock, recover, select, stage, commit, report
"""
