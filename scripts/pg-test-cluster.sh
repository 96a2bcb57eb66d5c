#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (ctest fixture "pg").
#
#   scripts/pg-test-cluster.sh start DIR   initdb into DIR/data, start on a free port,
#                                          write DIR/url; nothing to do if it runs already
#   scripts/pg-test-cluster.sh stop DIR    stop it and remove DIR; nothing to do if absent
#
# DIR/url holds postgresql://postgres@127.0.0.1:PORT/postgres?sslmode=disable
# (superuser "postgres", trust authentication: for tests only). The server
# listens on 127.0.0.1 only, with its unix socket in DIR (or in a short
# directory under /tmp when DIR is too long for a socket path), and its log
# in DIR/log.
#
# PostgreSQL refuses to run as root: as root, the server runs as the
# `postgres` user (runuser, or su) and DIR is given to it; as any other user
# (the postgres user included) it runs as that user.
#
# Test settings, for speed only: fsync=off, synchronous_commit=off and
# full_page_writes=off (a crash of the machine may lose or corrupt this
# cluster, which is thrown away anyway; never use them for real data).
# PGBIN overrides the directory of initdb/pg_ctl (default: the newest
# /usr/lib/postgresql/*/bin, else PATH).
set -eu

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in
/*) ;;
*) dir="$(pwd)/$dir" ;;
esac

if [ -z "${PGBIN:-}" ]; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$PGBIN" ]; then
        PGBIN=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
    fi
fi
if [ ! -x "$PGBIN/pg_ctl" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "pg-test-cluster: no initdb/pg_ctl in \"$PGBIN\" (install postgresql, or set PGBIN)" >&2
    exit 1
fi

# Run a command as the user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
    owner=postgres
    if ! id "$owner" >/dev/null 2>&1; then
        echo "pg-test-cluster: running as root but there is no \"postgres\" user" >&2
        exit 1
    fi
    as_owner() {
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$owner" -- "$@"
        else
            # su needs one command string: quote every argument.
            q=""
            for a in "$@"; do
                q="$q '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
            done
            su -s /bin/sh "$owner" -c "$q"
        fi
    }
else
    owner=$(id -un)
    as_owner() { "$@"; }
fi

data="$dir/data"

# The socket directory recorded at start (DIR itself or a short temporary one).
socket_dir() {
    if [ -f "$dir/socketdir" ]; then cat "$dir/socketdir"; else echo "$dir"; fi
}

running() {
    [ -f "$data/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

stop_cluster() {
    if [ -d "$data" ] && running; then
        as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    sock=$(socket_dir)
    if [ "$sock" != "$dir" ] && [ -d "$sock" ]; then
        rm -rf "$sock"
    fi
    rm -rf "$dir"
}

# A port nobody listens on (a race with another process remains possible:
# start retries with another port when the server cannot bind).
pick_port() {
    i=0
    while [ $i -lt 50 ]; do
        p=$(( ( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ) + 20000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
            ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return 0
        fi
        i=$((i + 1))
    done
    echo "pg-test-cluster: found no free port" >&2
    return 1
}

start_cluster() {
    if [ -f "$dir/url" ] && running; then
        echo "pg-test-cluster: already running: $(cat "$dir/url")"
        return 0
    fi
    # Leftovers of an interrupted run: start from scratch.
    stop_cluster
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$owner" "$dir"
        # The server must be able to reach DIR through its parents.
        if ! as_owner test -w "$dir"; then
            echo "pg-test-cluster: user \"$owner\" cannot write \"$dir\" (a parent directory" \
                "is not searchable by it)" >&2
            rm -rf "$dir"
            exit 1
        fi
    fi
    # A unix socket path must stay under 108 bytes.
    sock="$dir"
    if [ ${#dir} -gt 80 ]; then
        sock=$(mktemp -d /tmp/fvpg.XXXXXX)
        [ "$(id -u)" -ne 0 ] || chown "$owner" "$sock"
        echo "$sock" >"$dir/socketdir"
    fi

    as_owner "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "pg-test-cluster: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        exit 1
    }

    attempt=0
    while :; do
        port=$(pick_port)
        if as_owner "$PGBIN/pg_ctl" -D "$data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k '$sock' -c listen_addresses=127.0.0.1 -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
            break
        fi
        attempt=$((attempt + 1))
        if [ $attempt -ge 5 ]; then
            echo "pg-test-cluster: the server did not start; its log:" >&2
            tail -n 20 "$dir/log" >&2 || true
            stop_cluster
            exit 1
        fi
    done
    url="postgresql://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    printf '%s\n' "$url" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "pg-test-cluster: started: $url"
}

case "$cmd" in
start) start_cluster ;;
stop) stop_cluster ;;
*) usage ;;
esac
