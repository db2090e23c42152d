#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the end-to-end suite and prints its admin URL.
# Installs Debian's postgresql package first when no server binaries are present.
set -euo pipefail
PORT="${PALMLINE_PG_PORT:-55432}"
DIR="${PALMLINE_PG_DIR:-/tmp/palmline-pg}"
bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
if [ -z "$bindir" ]; then
  echo "installing postgresql..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
fi
[ -n "$bindir" ] || { echo "no PostgreSQL server binaries found" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql postgres
fi
# A server left running from an earlier run of this script is stopped first.
if [ -f "$DIR/data/postmaster.pid" ]; then
  as_pg "$bindir/pg_ctl -D $DIR/data stop -m fast" >/dev/null 2>&1 || true
fi
# Take the first free port from $PORT up.
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
rm -rf "$DIR"; mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
as_pg "$bindir/initdb -D $DIR/data -U postgres --auth=trust --locale=C.UTF-8 -E UTF8" >/dev/null
as_pg "$bindir/pg_ctl -D $DIR/data -l $DIR/log -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off' -w start" >&2
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
