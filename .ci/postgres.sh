# shellcheck shell=bash
# Throwaway PostgreSQL cluster on 127.0.0.1 for tests. Source this file, then:
#   kindred_pg_start   # exports TEST_DATABASE_URL and KINDRED_PG_DIR
#   kindred_pg_stop    # stops the cluster and deletes its directory
# Needs root (it runs the server as the `postgres` user via runuser), the
# postgresql package and python3. Installs nothing. Safe under `set -euo pipefail`;
# the caller should `trap kindred_pg_stop EXIT` (we don't, to keep the caller's traps).

# Run a command as postgres from /, since root's cwd (e.g. /root) is unreadable to postgres.
_kindred_pg_as() { (cd / && runuser -u postgres -- "$@"); }

# Newest installed major version's bin dir, e.g. /usr/lib/postgresql/15/bin.
_kindred_pg_bin() {
    find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1
}

# Random hex: safe unquoted in SQL literals and URLs.
_kindred_pg_secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

kindred_pg_start() {
    if [[ -n "${KINDRED_PG_DIR:-}" ]]; then
        echo "kindred_pg_start: already running in $KINDRED_PG_DIR" >&2
        return 1
    fi
    local bin dir port pw locale
    bin=$(_kindred_pg_bin)
    if [[ ! -x "$bin/initdb" ]]; then
        echo "kindred_pg_start: no PostgreSQL under /usr/lib/postgresql (apt-get install -y postgresql)" >&2
        return 1
    fi
    # Under /tmp rather than $TMPDIR: postgres must be able to reach it, and the
    # socket path (DIR/.s.PGSQL.PORT) must stay under the ~107-byte limit.
    dir=$(mktemp -d /tmp/kindred-pg.XXXXXX) || return 1
    # Export now so kindred_pg_stop can clean up after a partial start.
    export KINDRED_PG_DIR=$dir
    pw=$(_kindred_pg_secret)
    if ! { (umask 077 && _kindred_pg_secret > "$dir/pwfile") && chown -R postgres: "$dir"; }; then
        kindred_pg_stop
        return 1
    fi
    locale=C
    # No grep -q: with pipefail an early grep exit could fail `locale -a` with SIGPIPE.
    if locale -a 2>/dev/null | grep -iE '^c\.utf-?8$' >/dev/null; then locale=C.UTF-8; fi
    # Ask the kernel for a free port; a tiny race remains until postgres binds it.
    if ! { port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') &&
        # initdb needs an empty directory, hence $dir/data beside pwfile and the logs.
        _kindred_pg_as "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale="$locale" \
            > "$dir/initdb.log" 2>&1 &&
        # fsync etc. off: the data is disposable, and this makes tests faster.
        _kindred_pg_as "$bin/pg_ctl" -D "$dir/data" -w -s -l "$dir/log" start -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" &&
        # Separate -c options: CREATE DATABASE cannot run inside psql's single-command transaction.
        _kindred_pg_as "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
            -c "CREATE ROLE kindred LOGIN CREATEDB PASSWORD '$pw'" \
            -c "CREATE DATABASE kindred OWNER kindred"; }; then
        echo "kindred_pg_start: failed; log follows" >&2
        # The server log if the server got that far, else initdb's output.
        cat "$dir/log" >&2 2>/dev/null || cat "$dir/initdb.log" >&2 2>/dev/null || true
        kindred_pg_stop
        return 1
    fi
    export TEST_DATABASE_URL="postgresql+psycopg://kindred:$pw@127.0.0.1:$port/kindred"
    echo "PostgreSQL $("$bin/postgres" -V | cut -d" " -f3) up on 127.0.0.1:$port (database kindred, dir $dir)"
}

kindred_pg_stop() {
    local dir=${KINDRED_PG_DIR:-}
    unset KINDRED_PG_DIR TEST_DATABASE_URL
    # Only ever delete a directory that kindred_pg_start made.
    [[ "$dir" == /tmp/kindred-pg.* && -d "$dir" ]] || return 0
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        _kindred_pg_as "$(_kindred_pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -s stop || true
    fi
    rm -rf "$dir"
}
