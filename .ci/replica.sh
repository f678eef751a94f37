#!/usr/bin/env bash
# Starts a real streaming replica (hot standby) of the local PostgreSQL server at
# 127.0.0.1:5432, as the postgres user, and prints ONLY its URL base on stdout
# (append a database name: the replica has every database of the primary). Tests
# that need a replica read REPLICA_URL. Everything else goes to stderr.
#
# Usage: .ci/replica.sh [port]   (default 5433)
#        .ci/replica.sh stop     (stops it; or, by hand:
#          runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/ecto-sessions-replica/data -m fast stop
#          and rm -rf /tmp/ecto-sessions-replica to throw it away)
#
# The replica applies WAL 3 s late (recovery_min_apply_delay), so replication lag
# is certain, not a race. It logs every statement it serves, with the database
# name (log_line_prefix '%m [%p] %d '), to /tmp/ecto-sessions-replica/replica.log:
# simple-protocol queries show as "statement: ...", extended-protocol ones (pg with
# parameters, MikroORM) as "execute <name>: ...".
#
# Idempotent: a replica of this primary already running from our directory on the
# same port with the same settings, in recovery and streaming, is reused; otherwise
# it is stopped and rebuilt from a fresh base backup. It uses no replication slot,
# so an abandoned replica never makes the primary keep WAL (a replica that fell too
# far behind is simply rebuilt on the next run).
set -euo pipefail

base=/tmp/ecto-sessions-replica
data="$base/data"
log="$base/replica.log"
primary_host=127.0.0.1
primary_port=5432
say() { echo "replica: $*" >&2; }
die() { say "$*"; exit 1; }

q_primary() { psql -X -q -h "$primary_host" -p "$primary_port" -U postgres -d postgres -Atc "$1"; }
q_replica() { psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc "$1" 2>/dev/null; }
# As the postgres user, from a directory it can enter.
as_pg() { (cd / && runuser -u postgres -- "$@"); }

[ "$(id -u)" = 0 ] || die "run me as root (I edit the primary's pg_hba.conf and run PostgreSQL as postgres)"
running() { [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }
stop() { if running; then say "stopping the replica in $data"; as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >&2; fi; }
if [ "${1:-}" = stop ]; then
  # The replica's own version, so that stopping needs no primary.
  [ -f "$data/PG_VERSION" ] || exit 0
  bin="/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin"
  stop
  exit 0
fi

pg_isready -h "$primary_host" -p "$primary_port" -q 2>/dev/null || die "the primary at $primary_host:$primary_port is not up"
major=$(q_primary "SELECT current_setting('server_version_num')::int / 10000") || die "cannot query the primary"
bin="/usr/lib/postgresql/$major/bin"
[ -x "$bin/pg_basebackup" ] && [ -x "$bin/pg_ctl" ] || die "no $bin/pg_basebackup or pg_ctl (PostgreSQL $major server binaries)"

port="${1:-5433}"
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" != "$primary_port" ] || die "bad port '$port'"

# --- the primary must be able to feed a replica ---------------------------------
wal_level=$(q_primary "SHOW wal_level")
senders=$(q_primary "SHOW max_wal_senders")
case "$wal_level" in replica | logical) ;; *) die "the primary has wal_level = $wal_level; set it to replica (or logical) and restart it" ;; esac
[ "$senders" -gt 0 ] || die "the primary has max_wal_senders = 0; raise it and restart the primary"

hba=$(q_primary "SHOW hba_file")
rule='host replication all 127.0.0.1/32 trust'
if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust[[:space:]]*(#.*)?$' "$hba"; then
  # pg_hba.conf is first-match: put the rule first, so that an earlier
  # "host replication ... scram-sha-256" line (Debian's default) cannot shadow it.
  say "adding '$rule' to $hba and reloading the primary"
  # cat > keeps the file's owner and mode.
  hba_new=$(printf '# Added by nestjs-ecto-sessions .ci/replica.sh: a local streaming replica for tests.\n%s\n' "$rule"; cat "$hba")
  printf '%s\n' "$hba_new" >"$hba"
  [ "$(q_primary "SELECT pg_reload_conf()")" = t ] || die "could not reload the primary"
fi
ok=
for _ in $(seq 1 50); do
  if psql -X -q "host=$primary_host port=$primary_port user=postgres replication=true" -Atc IDENTIFY_SYSTEM >/dev/null 2>&1; then ok=1 && break; fi
  sleep 0.1
done
[ -n "$ok" ] || die "the primary refuses replication connections from $primary_host as postgres; check $hba"

# --- the replica's configuration -------------------------------------------------
# The primary's data directory (Debian keeps the configuration in /etc) brings no
# postgresql.conf, pg_hba.conf or pg_ident.conf: the replica gets its own.
# A hot standby needs these at least as high as on the primary; and it reads dates,
# zones and messages as the primary does, so a read served by it looks the same.
copied=$(q_primary "SELECT string_agg(format('%s = %L', name, setting), E'\n' ORDER BY name) FROM pg_settings
  WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions',
                 'max_locks_per_transaction', 'DateStyle', 'TimeZone', 'IntervalStyle', 'lc_messages',
                 'lc_monetary', 'lc_numeric', 'lc_time', 'default_text_search_config')")
primary_id=$(q_primary "SELECT system_identifier FROM pg_control_system()")
conf() {
  cat <<CONF
# Written by .ci/replica.sh on every run; a change restarts the replica.
port = $port
listen_addresses = '127.0.0.1'
# Its own socket directory, away from the primary's /var/run/postgresql.
unix_socket_directories = '$base'
cluster_name = 'ecto-sessions-replica'   # its application_name in the primary's pg_stat_replication
shared_buffers = '32MB'
ssl = off
# A throwaway test fixture, rebuilt whenever it is not running: no fsync (it also
# spares the start-up sync of the whole data directory).
fsync = off
hot_standby = on
# WAL arrives at once but is applied 3 s after each commit: lag is certain.
recovery_min_apply_delay = '3s'
# The primary keeps rows the standby's queries still see, so VACUUM cleanup on the
# primary does not cancel them.
hot_standby_feedback = on
# Replay waits this long for a standby query that conflicts with it (in practice:
# DROP/TRUNCATE/ALTER on the primary against a standby transaction holding a lock on
# the table) before cancelling that query. Not -1: one standby session left open in
# a transaction would then freeze replay for good, and every later test would see
# unbounded lag. The grace counts from when the WAL was received, so with the 3 s
# apply delay a query gets about 27 s; the tests' queries take milliseconds.
max_standby_streaming_delay = '30s'
max_standby_archive_delay = '30s'
# Every statement it serves, with the database name, into pg_ctl's -l file.
logging_collector = off
log_destination = 'stderr'
log_statement = 'all'
log_line_prefix = '%m [%p] %d '
# Copied from the primary:
$copied
CONF
}
hba_conf() {
  printf '# Written by .ci/replica.sh: trust, as the local primary.\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
}

# --- reuse a healthy replica, or rebuild -----------------------------------------
healthy() {
  running || return 1
  conf | cmp -s - "$data/postgresql.conf" || { say "its settings changed"; return 1; }
  [ "$(q_replica "SELECT pg_is_in_recovery()")" = t ] || { say "it does not answer on port $port as a standby"; return 1; }
  [ "$(q_replica "SELECT system_identifier FROM pg_control_system()")" = "$primary_id" ] ||
    { say "it is a replica of another cluster"; return 1; }
  for _ in $(seq 1 50); do
    [ "$(q_replica "SELECT status FROM pg_stat_wal_receiver")" = streaming ] && return 0
    sleep 0.1
  done
  say "it is not streaming from the primary"
  return 1
}

if healthy; then
  say "reusing the running replica in $data (log: $log)"
else
  # Line 4 of postmaster.pid is the port the running replica listens on.
  ours=$(running && sed -n 4p "$data/postmaster.pid" || true)
  if [ "$ours" != "$port" ] &&
    { pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null || ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }; then
    die "port $port is taken by another server, not by the replica in $data; pick another port"
  fi
  stop
  say "base backup of $primary_host:$primary_port into $data"
  rm -rf "$data" && mkdir -p "$base" && chown postgres:postgres "$base" && chmod 0755 "$base"
  # --checkpoint=fast: do not wait for a spread checkpoint (minutes by default);
  # --no-sync: a throwaway copy (see fsync below).
  as_pg "$bin/pg_basebackup" -h "$primary_host" -p "$primary_port" -U postgres -w -D "$data" -R -X stream \
    --checkpoint=fast --no-sync >&2 || die "pg_basebackup failed"
  # -R appended primary_conninfo to a copy of the primary's postgresql.auto.conf, whose
  # ALTER SYSTEM settings (a port, say) would override ours: keep only what -R wrote.
  grep -E '^(primary_conninfo|primary_slot_name|restore_command)[[:space:]]*=' "$data/postgresql.auto.conf" >"$base/auto.conf"
  printf '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n' |
    cat - "$base/auto.conf" >"$data/postgresql.auto.conf" && rm -f "$base/auto.conf"
  [ -f "$data/standby.signal" ] || die "pg_basebackup -R wrote no standby.signal"
  conf >"$data/postgresql.conf"
  hba_conf >"$data/pg_hba.conf"
  : >"$data/pg_ident.conf"
  chown postgres:postgres "$data"/postgresql.conf "$data"/postgresql.auto.conf "$data"/pg_hba.conf "$data"/pg_ident.conf
  chmod 0700 "$data"
  : >"$log" && chown postgres:postgres "$log"
  say "starting it on port $port (log: $log)"
  as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 120 start >&2 || { tail -n 30 "$log" >&2; die "the replica did not start"; }
fi

# --- ready: accepting connections, in recovery, streaming -------------------------
for _ in $(seq 1 100); do pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null && break; sleep 0.1; done
pg_isready -h 127.0.0.1 -p "$port" -q || { tail -n 30 "$log" >&2; die "the replica does not accept connections on port $port"; }
ok=
for _ in $(seq 1 100); do
  if [ "$(q_replica "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')")" = t ]; then
    ok=1 && break
  fi
  sleep 0.1
done
[ -n "$ok" ] || { tail -n 30 "$log" >&2; die "the replica is up but not streaming from the primary"; }
say "streaming from $primary_host:$primary_port, applying 3 s late"
echo "postgresql://postgres@127.0.0.1:$port"
