#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package) for the storage tests.
#   tests/api/pg_throwaway.sh start PORT  -> prints the SQLAlchemy URL; the cluster lives in a temp dir
#   tests/api/pg_throwaway.sh stop        -> stops it and removes the dir
set -euo pipefail
STATE="${TMPDIR:-/tmp}/greenwave-pg-throwaway"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    PORT="${2:-55432}"
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -x "$PGBIN/initdb" ] || { echo "postgresql is not installed" >&2; exit 1; }
    DIR="$(mktemp -d)"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200" start >/dev/null
    printf '%s\n%s\n' "$PGBIN" "$DIR" > "$STATE"
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    [ -f "$STATE" ] || exit 0
    { read -r PGBIN; read -r DIR; } < "$STATE"
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR" "$STATE"
    ;;
  *) echo "usage: $0 start [PORT] | stop" >&2; exit 2 ;;
esac
