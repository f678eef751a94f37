#!/usr/bin/env bash
# Starts Debian's PgBouncer in transaction mode in front of the local PostgreSQL,
# as the postgres user (PgBouncer refuses to run as root), and prints its URL
# base (append a database name). Tests that need a pooler read PGBOUNCER_URL.
# Usage: .ci/pgbouncer.sh [port]   (default 6432)
set -euo pipefail
port="${1:-6432}"
dir=/tmp/ecto-sessions-pgbouncer
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null) >&2 ||
    { echo "pgbouncer: could not install" >&2; exit 1; }
fi
bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
mkdir -p "$dir"
if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
  kill "$(cat "$dir/pgbouncer.pid")" && sleep 0.5
fi
# trust, as the local server here: every role the tests log in with is listed.
printf '"postgres" ""\n"ecto_sessions_impostor" ""\n' >"$dir/users.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
chown -R postgres "$dir"
su postgres -s /bin/sh -c "$bin -d $dir/pgbouncer.ini" >&2
for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null && break
  sleep 0.1
done
pg_isready -h 127.0.0.1 -p "$port" -q || { echo "pgbouncer did not start" >&2; tail "$dir/pgbouncer.log" >&2; exit 1; }
echo "postgresql://postgres@127.0.0.1:$port"
