#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the tests and print the SQLAlchemy URL.
#   eval "$(bash .ci/start-postgres.sh)"   # exports STEPPLATE_TEST_PG_URL and STEPPLATE_TEST_PG_DIR
# Needs the distribution's `postgresql` package (installs it with apt-get when run as root).
# The server runs as the `postgres` user from a temp folder, listens on 127.0.0.1 only (port
# $PGPORT, default 54329) and trusts local connections: a test server, never a clinic's.
set -euo pipefail
PORT="${PGPORT:-54329}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >&2
    else
        echo "postgresql is not installed (apt-get install postgresql)" >&2; exit 1
    fi
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
DIR="$(mktemp -d /tmp/stepplate-pg.XXXXXX)"
RUNAS=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
    RUNAS=(runuser -u postgres --)
fi
"${RUNAS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 >"$DIR/initdb.log" 2>&1
"${RUNAS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" start >&2
"${RUNAS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres stepplate_test
echo "export STEPPLATE_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/stepplate_test"
echo "export STEPPLATE_TEST_PG_DIR=$DIR"
echo "export STEPPLATE_TEST_PG_STOP='${RUNAS[*]} $BIN/pg_ctl -D $DIR/data -m fast stop'"
