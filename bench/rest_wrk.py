#!/usr/bin/python3
"""REST discovery throughput and latency, driven by wrk.

Starts `flovyn-server serve --memory --dev` on free loopback ports, registers
N workers (default 10,000) over gRPC with python3-grpcio, each serving 5 of K
task kinds (default 1,000) and 1 of K/10 workflow kinds, checks that the
routes answer 200 with the expected totals, then runs wrk on

  GET /api/tenants/default/workers?limit=50
  GET /api/tenants/default/task-definitions        (default page: 50)

and prints requests/s with the p50/p90/p99 latency wrk reports. The server is
stopped at the end.

Usage: /usr/bin/python3 bench/rest_wrk.py [PATH/TO/flovyn-server] [options]
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import flovyn_proto as fp  # noqa: E402


def register_all(srv, workers, kinds, threads):
    _, grpc_mod = fp.load()
    ch = fp.channel(srv.grpc_target)
    stub = grpc_mod.WorkerLifecycleStub(ch)
    wf_kinds = max(1, kinds // 10)

    def one(i):
        tasks = ["task-%04d" % ((i * 5 + j) % kinds) for j in range(5)]
        r = fp.register_worker(stub, srv.worker_key, srv.tenant_id, name="bench-%05d" % i,
                               host="bench-host", pid=10000 + i, tasks=tasks,
                               workflows=["workflow-%03d" % (i % wf_kinds)], timeout=60)
        return r.success

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        ok = sum(pool.map(one, range(workers)))
    dt = time.monotonic() - t0
    ch.close()
    if ok != workers:
        raise SystemExit("only %d of %d registrations succeeded" % (ok, workers))
    print("registered %d workers (%d task kinds, %d workflow kinds) in %.1f s (%.0f/s over "
          "grpcio, %d client threads)" % (workers, kinds, wf_kinds, dt, workers / dt, threads))


def check_route(srv, path, key, want_total):
    req = urllib.request.Request(srv.http_base + path, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
        total = int(resp.headers["X-Total-Count"])
    if resp.status != 200 or total != want_total or len(body) != min(50, want_total):
        raise SystemExit("%s: status %d, total %d (want %d), %d items"
                         % (path, resp.status, total, want_total, len(body)))


def run_wrk(srv, path, key, args):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d",
           "%ds" % args.duration, "--latency", "-H", "Authorization: Bearer " + key,
           srv.http_base + path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    print("GET %-45s %9.0f req/s   p50 %-8s p90 %-8s p99 %-8s%s%s"
          % (path, rps, lat.get("50"), lat.get("90"), lat.get("99"),
             "   NON-2xx: " + non2xx.group(1) if non2xx else "",
             "   " + errors.group(0) if errors else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("server", nargs="?", default=os.path.join(ROOT, "build", "flovyn-server"))
    ap.add_argument("--workers", type=int, default=10000)
    ap.add_argument("--kinds", type=int, default=1000)
    ap.add_argument("--register-threads", type=int, default=8)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-c", "--connections", type=int, default=32)
    ap.add_argument("-d", "--duration", type=int, default=10)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("rest_wrk: wrk is not installed (apt-get install wrk)")
    with fp.DevServer(args.server) as srv:
        register_all(srv, args.workers, args.kinds, args.register_threads)
        P = "/api/tenants/%s" % srv.tenant
        check_route(srv, P + "/workers?limit=50", srv.operator_key, args.workers)
        check_route(srv, P + "/task-definitions", srv.operator_key, args.kinds)
        print("wrk -t%d -c%d -d%ds (server and wrk share this machine's cores)"
              % (args.threads, args.connections, args.duration))
        run_wrk(srv, P + "/workers?limit=50", srv.operator_key, args)
        run_wrk(srv, P + "/task-definitions", srv.operator_key, args)
        rc = srv.stop()
    if rc != 0:
        raise SystemExit("flovyn-server exited with %s" % rc)


if __name__ == "__main__":
    main()
