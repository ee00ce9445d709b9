"""Write throughput of the PostgreSQL and Parquet sinks, and what a rerun does.

    python bench/sinks.py [--records 10000] [--batch-size 500] [--pg URI]

Makes N synthetic records (the invoice schema, every field set, one page,
metadata), then for each sink: writes them through a Beam pipeline on the
in-process DirectRunner (Create -> sink), and again (the rerun), printing
rows/s and the row count after each run. PostgreSQL also gets the plain
writer without Beam (COPY + upsert in batches), to show Beam's share of the
time. The server: --pg, else $PAPERBEAM_TEST_PG_DSN, else scripts/postgres.sh
starts one. Timings on a shared 2-core machine are noisy; compare within one
run.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from paperbeam import plugins  # noqa: E402
from paperbeam.connectors.config import ConnectorSpec  # noqa: E402
from paperbeam.pipelines.options import RunConfig  # noqa: E402
from paperbeam.records import Field, Page, Record, Word  # noqa: E402

VENDORS = ["ACME Supplies GmbH", "Monroe-Griffith", "Löchelweg Druck KG", "Globex Corp.", "Initech LLC", "Umbrella Ltd"]


def make_record(i: int) -> Record:
    """Record number ``i``: deterministic, every field set, one page, email metadata."""
    rng = random.Random(i)
    total = rng.randint(100, 999_999) / 100
    tax = round(total * 0.19, 2)
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    f = lambda v, norm, c: Field(value=v, normalized=norm, confidence=c, page=1, bbox=(50.0, 70.0, 250.0, 88.0), extractor="rules")  # noqa: E731
    fields = {
        "vendor_name": f(rng.choice(VENDORS), None, 0.9),
        "vendor_address": f("Hauptstrasse 12, 10115 Berlin", None, 0.6),
        "document_number": f(f"INV-{i:06d}", f"INV-{i:06d}", 0.9),
        "document_date": f(day, day, 0.95),
        "due_date": f(day, day, 0.8),
        "total_amount": f(f"{total:,.2f}", f"{total:.2f}", 0.88),
        "tax_amount": f(f"{tax:,.2f}", f"{tax:.2f}", 0.72),
        "currency": f("EUR", "EUR", 0.8),
    }
    doc_id = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
    page = Page(doc_id=doc_id, page_number=1, width=595.0, height=842.0, unit="pt", source="text_layer",
                words=[Word("Invoice", (50.0, 70.0, 110.0, 88.0))], seconds=0.05)
    return Record(id=doc_id, source_uri=f"/in/invoice-{i:06d}.pdf", media_type="application/pdf", page_count=1,
                  pages=[page], fields=fields, versions={"paperbeam": "bench"},
                  metadata={"sender": "billing@acme.example", "subject": f"Invoice {i}"})


def pipeline_write(sink, n: int):
    """Records made inside the pipeline (as a real stage hands them on), then the sink
    (or nothing, for the baseline). Returns (wall seconds, CPU seconds of this process)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    wall, cpu = time.perf_counter(), time.process_time()
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(["--direct_num_workers=1"])) as p:
        records = p | beam.Create(list(range(n)), reshuffle=False) | "Make" >> beam.Map(make_record)
        if sink is None:
            records | "Drop" >> beam.Filter(lambda r: False)
        else:
            records | sink.records()
    return time.perf_counter() - wall, time.process_time() - cpu


def pg_uri(arg):
    uri = arg or os.environ.get("PAPERBEAM_TEST_PG_DSN")
    if not uri:
        uri = subprocess.run([os.path.join(os.path.dirname(HERE), "scripts", "postgres.sh")], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return uri


def pg_count(sink, table):
    from paperbeam.connectors.postgres import connect

    conn = connect(sink.config, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}")
            return cur.fetchone()
    finally:
        conn.close()


def pg_drop(sink, table):
    from paperbeam.connectors.postgres import connect

    conn = connect(sink.config, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--pg", help="a postgresql:// sink URI (default: $PAPERBEAM_TEST_PG_DSN or scripts/postgres.sh)")
    args = ap.parse_args(argv)
    n = args.records
    work = tempfile.mkdtemp(prefix="paperbeam-bench-sinks-")
    run = RunConfig(input=work, output=work)
    rows = []

    seconds, cpu = pipeline_write(None, n)
    rows.append(("baseline: make records, no sink (Beam)", "-", seconds, cpu, None, None))
    base_wall = seconds

    uri = pg_uri(args.pg)
    table = f"bench_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in uri else "?"
    sink = plugins.build("sinks", ConnectorSpec(f"{uri}{sep}table={table}&batch_size={args.batch_size}"), run)
    try:
        for attempt in ("first run", "rerun"):
            sink.precheck()
            seconds, cpu = pipeline_write(sink, n)
            rows.append((f"postgresql (Beam, batch {args.batch_size})", attempt, seconds, cpu, *pg_count(sink, table)))
        # the writer alone, without Beam, into a fresh table
        from paperbeam.connectors.postgres import TableWriter, record_row, records_layout

        pg_drop(sink, table)
        records = [make_record(i) for i in range(n)]
        wall, cpu = time.perf_counter(), time.process_time()
        writer = TableWriter(sink.config, records_layout(sink.config))
        for r in records:
            writer.add(record_row(r, sink.config))
        writer.flush()
        writer.close()
        rows.append((f"postgresql (writer alone, batch {args.batch_size})", "first run", time.perf_counter() - wall,
                     time.process_time() - cpu, *pg_count(sink, table)))
    finally:
        pg_drop(sink, table)

    out = os.path.join(work, "parquet")
    sink = plugins.build("sinks", ConnectorSpec(f"parquet:{out}"), run)
    import pyarrow.parquet as pq

    for attempt in ("first run", "rerun"):
        sink.precheck()
        seconds, cpu = pipeline_write(sink, n)
        ids = [i for path in glob.glob(os.path.join(out, "records-*.parquet"))
               for i in pq.read_table(path, columns=["id"]).column("id").to_pylist()]
        rows.append(("parquet (Beam)", attempt, seconds, cpu, len(ids), len(set(ids))))

    print(f"{n} records; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(f"{'sink':<42} {'run':<10} {'wall s':>7} {'rows/s':>7} {'net s':>6} {'net rows/s':>10} {'cpu s':>6} {'rows':>6} {'distinct':>8}")
    for name, attempt, seconds, cpu, total, distinct in rows:
        beam_run = "Beam" in name and total is not None
        net = seconds - base_wall if beam_run else seconds
        print(f"{name:<42} {attempt:<10} {seconds:>7.2f} {n / seconds:>7.0f} {net:>6.2f} {n / max(net, 1e-9):>10.0f} {cpu:>6.2f} "
              f"{'' if total is None else total:>6} {'' if distinct is None else distinct:>8}")
    print("\nnet = wall minus the baseline pipeline (making the records in Beam); cpu = this process only "
          "(PostgreSQL's own work is in its server processes).")
    ok = all(total == distinct == n for *_, total, distinct in rows if total is not None)
    print(f"\nrerun: every table / folder holds exactly {n} rows, {n} distinct ids" if ok else "\nROW COUNTS WRONG")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
