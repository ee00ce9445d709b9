#!/usr/bin/env bash
# Start a dask.distributed scheduler and N single-threaded workers on this
# machine, in the foreground; Ctrl-C stops them all.
#
#   deploy/dask/start-cluster.sh 4             # scheduler on :8786 and 4 workers
#   paperbeam run --runner dask --dask-address tcp://$(hostname):8786 --input in --output out
#
# On other machines, join workers with:
#   OMP_THREAD_LIMIT=1 dask worker tcp://SCHEDULER:8786 --nthreads 1 --nworkers N
# Every worker needs paperbeam (pip install 'paperbeam[dask]') and tesseract,
# and must see --input and --output at the same paths (or use gs:// / s3://).
set -euo pipefail

WORKERS="${1:-$(nproc)}"
PORT="${DASK_SCHEDULER_PORT:-8786}"
HOST="${DASK_SCHEDULER_HOST:-0.0.0.0}"
export OMP_THREAD_LIMIT=1  # tesseract's own threads would fight the workers for the cores

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait || true; }
trap cleanup EXIT INT TERM

dask scheduler --host "$HOST" --port "$PORT" &
pids+=($!)
sleep 2
# One thread per worker process: OCR and field extraction hold the GIL between tesseract calls.
dask worker "tcp://127.0.0.1:$PORT" --nthreads 1 --nworkers "$WORKERS" &
pids+=($!)
echo "dask scheduler on tcp://$(hostname):$PORT with $WORKERS workers; Ctrl-C to stop" >&2
wait
