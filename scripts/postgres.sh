#!/usr/bin/env bash
# A PostgreSQL server for paperbeam's tests and benches, on loopback only.
#
#   scripts/postgres.sh          install (if missing), start, print the DSN on stdout
#   scripts/postgres.sh stop     stop it
#
# Idempotent and fast when already running. Installs the Debian "postgresql"
# package if no server binaries are found (apt-get update first; sudo only
# when not root). The cluster is our own (not Debian's "main"): a data
# directory under $PAPERBEAM_PG_DIR (default /var/tmp/paperbeam-pg), owned by
# the postgres user when run as root (initdb refuses root), by the caller
# otherwise. It listens on 127.0.0.1 only, on 5432 when free, else on the
# first free port from 55432. A role and a database for tests are created:
#   role paperbeam, password in $PAPERBEAM_PG_DIR/password, database paperbeam_test
# The printed DSN is a paperbeam sink URI (the password comes from a file,
# never from the command line):
#   postgresql://paperbeam@127.0.0.1:PORT/paperbeam_test?password_file=DIR/password
# Progress goes to stderr; stdout has only the DSN, so:
#   export PAPERBEAM_TEST_PG_DSN="$(scripts/postgres.sh)"
set -euo pipefail

DIR="${PAPERBEAM_PG_DIR:-/var/tmp/paperbeam-pg}"
DATA="$DIR/data"
DB="paperbeam_test"
ROLE="paperbeam"
say() { echo "postgres.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN="$(find_bin)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  say "installing PostgreSQL from Debian"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(find_bin)"
  [ -n "$BIN" ] || { say "error: PostgreSQL is still not installed"; exit 1; }
  # Debian's package starts its own "main" cluster; ours is separate, so leave that alone.
fi

# Who runs the server: postgres when we are root, else ourselves.
if [ "$(id -u)" = "0" ]; then
  OWNER="postgres"
  as_owner() { runuser -u postgres -- "$@"; }
else
  OWNER="$(id -un)"
  as_owner() { "$@"; }
fi

status() { as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

if [ "${1:-start}" = "stop" ]; then
  if [ -d "$DATA" ] && status; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2; fi
  exit 0
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

dsn() { echo "postgresql://$ROLE@127.0.0.1:$(cat "$DIR/port")/$DB?password_file=$DIR/password"; }

if [ -d "$DATA" ] && [ -f "$DIR/port" ] && status; then
  dsn
  exit 0
fi

mkdir -p "$DIR"
chown "$OWNER" "$DIR"
chmod 755 "$DIR"
if [ ! -s "$DIR/password" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$DIR/password")
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
  say "creating a cluster in $DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
fi

PORT="${PAPERBEAM_PG_PORT:-}"
if [ -z "$PORT" ]; then
  for p in 5432 $(seq 55432 55532); do
    if port_free "$p"; then PORT="$p"; break; fi
  done
fi
[ -n "$PORT" ] || { say "error: no free port for PostgreSQL"; exit 1; }
echo "$PORT" > "$DIR/port"

say "starting on 127.0.0.1:$PORT"
as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR -c max_connections=100" start >/dev/null \
  || { say "error: the server did not start; its log:"; tail -n 20 "$DIR/server.log" >&2; exit 1; }

psql_admin() { as_owner "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
PASSWORD="$(cat "$DIR/password")"
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
else
  psql_admin -c "ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE"
fi
dsn
