#!/usr/bin/env bash
# `make run`: start flovyn-server with the in-memory bundle and development
# keys, start a few demo workers that register, heartbeat and run the tasks of
# their queues, and print how to submit a task and connect a worker of your
# own. Ctrl-C stops everything cleanly.
#
#   scripts/run-demo.sh [BUILD_DIR]        (default: build)
#
# The server's settings come from the FLOVYN_* environment as usual
# (FLOVYN_GRPC_LISTEN=127.0.0.1:9191 make run, FLOVYN_LOG_LEVEL=debug, ...;
# flovyn-server --help lists them). Its credentials go to
# BUILD_DIR/dev-credentials.json (mode 0600), written once it listens.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
SERVER=$BUILD/flovyn-server
CREDS=$BUILD/dev-credentials.json
PY=/usr/bin/python3

if [ ! -x "$SERVER" ]; then
    echo "run-demo: $SERVER is missing; build first (make build)" >&2
    exit 1
fi

# The address to dial for a listen address: a wildcard host made local.
# $1 names the variable it came from, for the message when its port is 0
# (make run prints fixed addresses to connect to).
dial_address() {
    local var=$1 listen=$2
    local host=${listen%:*} port=${listen##*:}
    case "$host" in
        0.0.0.0 | "") host=127.0.0.1 ;;
        "[::]") host="[::1]" ;;
    esac
    if [ "$port" = 0 ]; then
        echo "run-demo: $var=$listen: make run needs a fixed port" >&2
        return 2
    fi
    echo "$host:$port"
}
# Where workers dial (gRPC) and where the CLI dials (REST).
TARGET=$(dial_address FLOVYN_GRPC_LISTEN "${FLOVYN_GRPC_LISTEN:-127.0.0.1:9090}") || exit 2
HTTP=http://$(dial_address FLOVYN_HTTP_LISTEN "${FLOVYN_HTTP_LISTEN:-127.0.0.1:8000}") || exit 2

SERVER_PID=
WORKERS_PID=
cleanup() {
    trap - INT TERM HUP EXIT
    echo
    echo "run-demo: stopping the demo workers and the server..."
    # One SIGTERM each: the server drains its calls, the workers exit.
    [ -n "$WORKERS_PID" ] && kill -TERM "$WORKERS_PID" 2>/dev/null || true
    [ -n "$WORKERS_PID" ] && wait "$WORKERS_PID" 2>/dev/null || true
    local rc=0
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || rc=$?
    fi
    echo "run-demo: stopped (server exit status $rc)"
}
trap 'cleanup; exit 0' INT TERM HUP
trap cleanup EXIT

# Children get their own session (setsid), so the terminal's Ctrl-C reaches
# only this script, which then stops each of them exactly once.
rm -f "$CREDS"
setsid "$SERVER" serve --memory --dev --credentials-file "$CREDS" >"$BUILD/dev-server.out" &
SERVER_PID=$!

# The credentials file appears once the server listens.
for _ in $(seq 1 300); do
    [ -s "$CREDS" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" || rc=$?
        SERVER_PID=
        echo "run-demo: flovyn-server exited (status ${rc:-0}) before it was ready; see above" >&2
        exit 1
    fi
    sleep 0.1
done
if [ ! -s "$CREDS" ]; then
    echo "run-demo: flovyn-server wrote no credentials within 30 s" >&2
    exit 1
fi

field() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$CREDS" "$1"
}
TENANT=$(field tenant)
TENANT_ID=$(field tenantId)
WORKER_KEY=$(field workerKey)
OPERATOR_KEY=$(field operatorKey)
ADMIN_KEY=$(field adminKey)

setsid "$PY" scripts/demo-workers.py --credentials "$CREDS" --target "$TARGET" &
WORKERS_PID=$!
sleep 1

cat <<EOF

================================================================================
 Flovyn is running (in memory; everything is gone when it stops).

   gRPC address   $TARGET   (workers)
   REST API       $HTTP   (operators, the flovyn CLI)
   tenant         $TENANT   (id $TENANT_ID: the org_id of gRPC requests)
   worker key     $WORKER_KEY
   operator key   $OPERATOR_KEY
   admin key      $ADMIN_KEY   (tenants and API keys)
   credentials    $CREDS (mode 0600)

 Demo workers: billing-worker, etl-worker, onboarding-worker (heartbeat every 10 s).
 billing-worker runs the tasks of queue "billing" (send-invoice, charge-card; a
 charge-card fails its first attempt and is retried), etl-worker those of queue
 "etl" (extract, load); each outcome shows up in this terminal.

 Submit tasks to them (another terminal, at the top of the source tree):

   /usr/bin/python3 - <<'PY'
   import sys; sys.path.insert(0, "scripts")
   import flovyn_proto as fp
   pb2, pb2_grpc = fp.load()
   tasks = pb2_grpc.TaskExecutionStub(fp.channel("$TARGET"))
   key, org_id = "$WORKER_KEY", "$TENANT_ID"
   for kind, task_input in [("send-invoice", {"invoice": 42}), ("charge-card", {"amount": 1999})]:
       resp = fp.submit_task(tasks, key, org_id, kind, task_input, queue="billing")
       print(kind, resp.task_execution_id)
   PY

 Connect a worker of your own (Debian python3-grpcio, stubs from proto/flovyn.proto):

   /usr/bin/python3 - <<'PY'
   import sys; sys.path.insert(0, "scripts")
   import flovyn_proto as fp
   pb2, pb2_grpc = fp.load()
   stub = pb2_grpc.WorkerLifecycleStub(fp.channel("$TARGET"))
   resp = stub.RegisterWorker(
       fp.registration("$TENANT_ID", name="my-worker", tasks=["say-hello"]),
       metadata=[("authorization", "Bearer $WORKER_KEY")])
   print(resp.success, resp.worker_id)
   PY

 Look around with the flovyn CLI (another terminal):

   export FLOVYN_SERVER=$HTTP FLOVYN_API_KEY=$OPERATOR_KEY
   $BUILD/flovyn workers list
   $BUILD/flovyn workers get <worker-id>
   $BUILD/flovyn tasks definitions
   $BUILD/flovyn workflows definitions nightly-etl
   $BUILD/flovyn tasks configure send-invoice --timeout 120 --max-retries 2
   $BUILD/flovyn workers list --watch

 Or raw REST: curl -H "Authorization: Bearer \$FLOVYN_API_KEY" $HTTP/api/tenants/$TENANT/workers
 API description: $HTTP/api/docs/openapi.json    Health: $HTTP/_/health
 Ctrl-C stops the workers and the server.
================================================================================

EOF

# Until Ctrl-C (the trap) or the server's own exit.
set +e
wait "$SERVER_PID"
rc=$?
SERVER_PID=
echo "run-demo: flovyn-server exited with status $rc" >&2
exit "$rc"
