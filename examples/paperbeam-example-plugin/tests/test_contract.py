"""paperbeam's plugin contract, run against this package's sink through its entry point."""

import glob
import os

from paperbeam.testing.contract import SinkContract


class TestTotalsTsv(SinkContract):
    name = "totals-tsv"

    def make_uri(self, tmp_path):
        return f"totals-tsv:{tmp_path / 'tsv'}"

    def read_back(self, sink):
        ids = []
        for path in sorted(glob.glob(os.path.join(sink.output, "totals-*.tsv"))):
            with open(path, encoding="utf-8") as fh:
                ids += [line.split("\t", 1)[0] for line in fh.read().splitlines()[1:] if line]
        return ids
