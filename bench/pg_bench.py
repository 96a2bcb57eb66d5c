#!/usr/bin/python3
"""flovyn-server on PostgreSQL: heartbeats, registrations and list latency,
with pgbench's single-row update rate measured in the same run as the
reference.

Starts a throwaway PostgreSQL cluster of its own (scripts/pg-test-cluster.sh,
in a temporary directory, on a free port), restarted with durable settings
(fsync, synchronous_commit and full_page_writes on: the cluster script's
fast test settings are off here, use --unsafe-fast to keep them), then
`flovyn-server serve --database-url ... --dev` on a fresh database, and runs:

  SendHeartbeat     h2load, one registered worker's id (bench/grpc_h2load.py)
  RegisterWorker    h2load, UNIFIED with 20 task capabilities; every request is
                    the same bytes, so it is the same process re-registering
                    (one worker row, its 20 links replaced each time)
  GET workers?limit=50   wrk, with 10,000 workers registered over gRPC
                    (bench/rest_wrk.py)
  pgbench           -i -s 10 on a database of the same cluster, then a custom
                    script of one single-row UPDATE per transaction, 8
                    clients, 10 s (with the flovyn server stopped)

and prints the figures and the ratio heartbeats/s : pgbench tps. The server
and the load generators share this machine's cores. Everything started is
stopped and the cluster removed at the end.

Usage: /usr/bin/python3 bench/pg_bench.py [PATH/TO/flovyn-server] [options]
"""
import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import flovyn_proto as fp  # noqa: E402
import grpc_h2load  # noqa: E402
import rest_wrk  # noqa: E402

FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")

UPDATE_SCRIPT = """\\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
"""


def durable(options):
    """The cluster's command line without the script's unsafe -c settings."""
    out, i = [], 0
    while i < len(options):
        if options[i] == "-c" and i + 1 < len(options) and options[i + 1] in FAST_SETTINGS:
            i += 2
            continue
        out.append(options[i])
        i += 1
    return out


def settings(url):
    rows = fp.psql(url, "SELECT name || '=' || setting FROM pg_settings WHERE name IN "
                   "('fsync','synchronous_commit','full_page_writes','shared_buffers',"
                   "'max_connections') ORDER BY name")
    version = fp.psql(url, "SHOW server_version").strip()
    return "PostgreSQL %s: %s" % (version, ", ".join(rows.split()))


def h2load_case(srv, args, work, name, method, msg, requests, chan):
    """One h2load run through bench/grpc_h2load.py's functions; returns req/s."""
    payload = msg.SerializeToString()
    data_file = os.path.join(work, name + ".grpc")
    with open(data_file, "wb") as f:
        f.write(grpc_h2load.grpc_frame(payload))
    path = "/flovyn.v1.WorkerLifecycle/" + method
    # The exact bytes h2load sends must succeed as a gRPC call (h2load reads
    # no grpc-status).
    grpc_h2load.check_frame_with_grpcio(chan, path, payload, srv.worker_key)
    log_mark = len(srv.stderr)
    out, fig, lat = grpc_h2load.run_h2load(args, "http://%s%s" % (srv.grpc_target, path),
                                           data_file, srv.worker_key, requests,
                                           os.path.join(work, name + ".log"))
    grpc_h2load.report(method, fig, lat, args, requests)
    bad = [line for line in srv.stderr[log_mark:] if " WARN " in line or " ERROR " in line]
    print("   server WARN/ERROR lines during the run: %d%s"
          % (len(bad), ("  e.g. " + bad[0]) if bad else ""))
    grpc_h2load.check_frame_with_grpcio(chan, path, payload, srv.worker_key)
    if fig.get("succeeded") != requests or fig.get("s2xx") != requests:
        raise SystemExit("%s: h2load counted %s succeeded / %s 2xx of %d"
                         % (method, fig.get("succeeded"), fig.get("s2xx"), requests))
    return fig["rps"]


def wrk_case(srv, path, key, args):
    """wrk through bench/rest_wrk.py (it prints the line); returns req/s and
    the p50/p99 it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rest_wrk.run_wrk(srv, path, key, args)
    line = buf.getvalue()
    sys.stdout.write(line)
    m = re.search(r"([\d.]+) req/s\s+p50 (\S+)\s+p90 (\S+)\s+p99 (\S+)", line)
    return (float(m.group(1)), m.group(2), m.group(4)) if m else (float("nan"), "?", "?")


def pgbench(cluster_url, args, work):
    db = fp.PgDatabase(cluster_url=cluster_url, prefix="pgbench")
    try:
        init = subprocess.run(["pgbench", "-i", "-q", "-s", str(args.pgbench_scale), db.url],
                              capture_output=True, text=True)
        if init.returncode != 0:
            raise SystemExit("pgbench -i failed:\n" + init.stderr)
        script = os.path.join(work, "update.sql")
        with open(script, "w") as f:
            f.write(UPDATE_SCRIPT)
        cmd = ["pgbench", "-n", "-c", str(args.pgbench_clients), "-j", "2",
               "-T", str(args.pgbench_seconds), "-f", script, db.url]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit("pgbench failed:\n" + res.stdout + res.stderr)
        m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", res.stdout)
        lat = re.search(r"latency average = ([\d.]+ ms)", res.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", res.stdout)
        tps = float(m.group(1))
        print("== pgbench: one single-row UPDATE per transaction (-s %d, -c %d -j 2, %d s)"
              % (args.pgbench_scale, args.pgbench_clients, args.pgbench_seconds))
        print("   tps        : %.0f  (latency average %s%s)"
              % (tps, lat.group(1) if lat else "?",
                 ", %s failed" % failed.group(1) if failed else ""))
        return tps
    finally:
        db.drop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", nargs="?", default=os.path.join(ROOT, "build", "flovyn-server"))
    ap.add_argument("--heartbeats", type=int, default=100000,
                    help="SendHeartbeat requests (default %(default)s)")
    ap.add_argument("--registrations", type=int, default=10000,
                    help="RegisterWorker requests (default %(default)s)")
    ap.add_argument("-c", "--clients", type=int, default=8, help="h2load connections")
    ap.add_argument("-m", "--streams", type=int, default=16, help="h2load streams per connection")
    ap.add_argument("-t", "--threads", type=int, default=1, help="h2load threads")
    ap.add_argument("--workers", type=int, default=10000, help="workers for the list latency")
    ap.add_argument("--kinds", type=int, default=1000)
    ap.add_argument("--register-threads", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=32)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--pgbench-scale", type=int, default=10)
    ap.add_argument("--pgbench-clients", type=int, default=8)
    ap.add_argument("--pgbench-seconds", type=int, default=10)
    ap.add_argument("--unsafe-fast", action="store_true",
                    help="keep the cluster script's fsync/synchronous_commit/full_page_writes off")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra argument for flovyn-server serve (repeatable)")
    args = ap.parse_args()
    for tool, pkg in (("h2load", "nghttp2-client"), ("wrk", "wrk"), ("pgbench", "postgresql"),
                      ("psql", "postgresql-client")):
        if shutil.which(tool) is None:
            raise SystemExit("pg_bench: %s not found (apt-get install %s)" % (tool, pkg))
    if not os.access(args.server, os.X_OK):
        raise SystemExit("no flovyn-server at %s (build it, or pass its path)" % args.server)

    pb2, pb2_grpc = fp.load()
    work = tempfile.mkdtemp(prefix="flovyn-pgbench-")
    cluster = fp.PgCluster("/tmp/flovyn-pgbench-cluster-%d" % os.getpid())
    srv = None
    figures = {}
    try:
        cluster.create()
        if not args.unsafe_fast:
            cluster.stop_server()
            cluster.start_server(durable(cluster.options))
        print(settings(cluster.url))
        db = fp.PgDatabase(cluster_url=cluster.url, prefix="flovyn_bench")
        srv = fp.DevServer(args.server, database_url=db.url, own_database=db,
                           extra_args=args.server_arg, start_timeout=60).start()
        print("flovyn-server %s on %s (PostgreSQL bundle, database %s)"
              % (args.server, srv.grpc_target, db.name))
        chan = fp.channel(srv.grpc_target)
        stub = pb2_grpc.WorkerLifecycleStub(chan)
        reg = fp.registration(srv.tenant_id, name="bench-worker", host="bench-host", pid=4242,
                              worker_type="UNIFIED",
                              tasks=["bench-task-%02d" % i for i in range(20)])
        resp = stub.RegisterWorker(reg, metadata=fp.bearer(srv.worker_key), timeout=10)
        if not resp.success:
            raise SystemExit("registration failed: %s" % resp.error)
        beat = pb2.WorkerHeartbeatRequest(worker_id=resp.worker_id)

        figures["heartbeats"] = h2load_case(srv, args, work, "heartbeat", "SendHeartbeat", beat,
                                            args.heartbeats, chan)
        print("   (every request re-registers the same process: same name, host and pid, "
              "20 task capabilities, one transaction each)")
        figures["registrations"] = h2load_case(srv, args, work, "register", "RegisterWorker",
                                               reg, args.registrations, chan)
        again = stub.RegisterWorker(reg, metadata=fp.bearer(srv.worker_key), timeout=10)
        if again.worker_id != resp.worker_id:
            raise SystemExit("re-registration did not keep the worker id")
        chan.close()

        # The list with 10,000 workers (plus the bench worker above).
        rest_wrk.register_all(srv, args.workers, args.kinds, args.register_threads)
        P = "/api/tenants/%s" % srv.tenant
        rest_wrk.check_route(srv, P + "/workers?limit=50", srv.operator_key, args.workers + 1)
        wargs = argparse.Namespace(threads=args.wrk_threads, connections=args.wrk_connections,
                                   duration=args.wrk_seconds)
        print("wrk -t%d -c%d -d%ds" % (wargs.threads, wargs.connections, wargs.duration))
        figures["list"] = wrk_case(srv, P + "/workers?limit=50", srv.operator_key, wargs)
        rc = srv.stop(timeout=30)
        srv = None
        if rc != 0:
            raise SystemExit("flovyn-server exited with %s" % rc)

        # The reference, on the same cluster, the flovyn server stopped.
        figures["pgbench"] = pgbench(cluster.url, args, work)
    finally:
        if srv is not None:
            srv.stop(timeout=30)
        cluster.remove()
        shutil.rmtree(work, ignore_errors=True)

    hb, tps = figures["heartbeats"], figures["pgbench"]
    rps, p50, p99 = figures["list"]
    print()
    print("== summary (PostgreSQL bundle, %s)"
          % ("fast unsafe settings" if args.unsafe_fast else "durable settings"))
    print("   heartbeats/s                      %8.0f" % hb)
    print("   registrations/s (20 capabilities) %8.0f  (same process re-registering)"
          % figures["registrations"])
    print("   GET workers?limit=50, %d workers %8.0f req/s  p50 %s  p99 %s"
          % (args.workers + 1, rps, p50, p99))
    print("   pgbench single-row UPDATE tps     %8.0f" % tps)
    print("   heartbeats/s : pgbench tps        %8.2f : 1" % (hb / tps))
    print("   registrations/s : pgbench tps     %8.2f : 1" % (figures["registrations"] / tps))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
