#!/usr/bin/python3
"""gRPC throughput and latency of WorkerLifecycle, driven by h2load.

Starts `flovyn-server serve --memory --dev` on free loopback ports, registers
one worker with python3-grpcio to get a worker id, writes one gRPC frame per
method to a data file (1 flag byte 0, 4-byte big-endian length, the message),
checks with grpcio that exactly those bytes succeed (h2load reads no
grpc-status, so an HTTP 200 alone proves nothing), then runs h2load (package
nghttp2-client) over h2c against

  SendHeartbeat   the registered worker's id
  RegisterWorker  UNIFIED, 10 task capabilities

and prints requests/s and latency min/mean/max with p50/p90/p99/p99.9
computed from h2load's --log-file. The server is stopped at the end.

Every RegisterWorker request is the same bytes, so it is the same process
re-registering (same name, host and pid: one worker row, its 10 links
replaced each time), which is the realistic hot path; a crowd of distinct
processes cannot be expressed with one data file.

Usage: /usr/bin/python3 bench/grpc_h2load.py [PATH/TO/flovyn-server] [options]
       (default binary: build/flovyn-server of this checkout; --help for options)
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import flovyn_proto as fp  # noqa: E402


IDENT = lambda b: b  # noqa: E731


def grpc_frame(message_bytes):
    """A gRPC length-prefixed message: uncompressed flag, big-endian length."""
    return struct.pack(">BI", 0, len(message_bytes)) + message_bytes


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def fmt_us(us):
    return "%.0f us" % us if us < 1000 else "%.2f ms" % (us / 1000.0)


def check_frame_with_grpcio(channel, path, payload, key):
    """Sends exactly the benchmarked message bytes with grpcio; raises on a
    non-OK status and returns the raw answer."""
    call = channel.unary_unary(path, request_serializer=IDENT, response_deserializer=IDENT)
    return call(payload, metadata=fp.bearer(key), timeout=10)


def nghttp_status(url, data_file, key):
    """grpc-status of one request sent with nghttp (the same client stack as
    h2load), or None if nghttp is not installed."""
    if shutil.which("nghttp") is None:
        return None
    res = subprocess.run(["nghttp", "-v", "-d", data_file,
                          "-H", "content-type: application/grpc", "-H", "te: trailers",
                          "-H", "authorization: Bearer " + key, url],
                         capture_output=True, text=True, timeout=30)
    m = re.search(r"grpc-status: (\d+)", res.stdout)
    return int(m.group(1)) if m else "absent (nghttp rc %d)" % res.returncode


def parse_h2load(out):
    """The figures of h2load's summary (a dict; missing ones are absent)."""
    fig = {}
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    if m:
        secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
        fig.update(seconds=secs, rps=float(m.group(3)))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if m:
        fig.update(total=int(m.group(1)), done=int(m.group(3)), succeeded=int(m.group(4)),
                   failed=int(m.group(5)), errored=int(m.group(6)), timeout=int(m.group(7)))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if m:
        fig.update(s2xx=int(m.group(1)), s4xx=int(m.group(3)), s5xx=int(m.group(4)))
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if m:
        fig.update(h2_min=m.group(1), h2_max=m.group(2), h2_mean=m.group(3), h2_sd=m.group(4))
    return fig


def run_h2load(args, url, data_file, key, requests, log_file):
    if os.path.exists(log_file):
        os.unlink(log_file)  # h2load appends
    cmd = ["h2load", "-n", str(requests), "-c", str(args.clients), "-m", str(args.streams),
           "-t", str(args.threads), "-d", data_file,
           "-H", "content-type: application/grpc", "-H", "te: trailers",
           "-H", "authorization: Bearer " + key,
           "--log-file=" + log_file, url]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("h2load failed (%d):\n%s%s" % (res.returncode, res.stdout, res.stderr))
    lat = []
    with open(log_file) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) >= 3:
                lat.append(int(cols[2]))
    lat.sort()
    return res.stdout, parse_h2load(res.stdout), lat


def report(name, fig, lat, args, requests):
    print("== %s  (-n %d -c %d -m %d -t %d)" % (name, requests, args.clients, args.streams,
                                                 args.threads))
    print("   requests/s : %.0f  (%d done, %d succeeded, %d failed, %d errored in %.2f s)"
          % (fig.get("rps", float("nan")), fig.get("done", 0), fig.get("succeeded", 0),
             fig.get("failed", 0), fig.get("errored", 0), fig.get("seconds", float("nan"))))
    print("   HTTP status: %d 2xx, %d 4xx, %d 5xx" % (fig.get("s2xx", 0), fig.get("s4xx", 0),
                                                      fig.get("s5xx", 0)))
    if lat:
        mean = sum(lat) / len(lat)
        print("   latency    : min %s  mean %s  max %s  (h2load: mean %s, sd %s)"
              % (fmt_us(lat[0]), fmt_us(mean), fmt_us(lat[-1]), fig.get("h2_mean", "?"),
                 fig.get("h2_sd", "?")))
        print("   percentiles: p50 %s  p90 %s  p99 %s  p99.9 %s  (%d samples)"
              % tuple([fmt_us(percentile(lat, p)) for p in (50, 90, 99, 99.9)] + [len(lat)]))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", nargs="?", default=os.path.join(ROOT, "build", "flovyn-server"),
                    help="flovyn-server binary (default: %(default)s)")
    ap.add_argument("-n", "--requests", type=int, default=200000,
                    help="SendHeartbeat requests (default %(default)s)")
    ap.add_argument("--register-requests", type=int, default=50000,
                    help="RegisterWorker requests (default %(default)s)")
    ap.add_argument("-c", "--clients", type=int, default=8, help="connections (default 8)")
    ap.add_argument("-m", "--streams", type=int, default=16,
                    help="concurrent streams per connection (default 16)")
    ap.add_argument("-t", "--threads", type=int, default=1,
                    help="h2load threads (default 1: the server needs the other core)")
    ap.add_argument("--only", choices=("heartbeat", "register"), help="run one method only")
    ap.add_argument("--show-h2load", action="store_true", help="print h2load's own output")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra argument for flovyn-server (repeatable)")
    args = ap.parse_args()

    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    if not os.access(args.server, os.X_OK):
        sys.exit("no flovyn-server at %s (build it, or pass its path)" % args.server)
    pb2, pb2_grpc = fp.load()
    work = tempfile.mkdtemp(prefix="flovyn-h2load-")
    server = fp.DevServer(args.server, extra_args=args.server_arg)
    try:
        server.start()
        print("flovyn-server %s on %s" % (args.server, server.grpc_target))
        chan = fp.channel(server.grpc_target)
        stub = pb2_grpc.WorkerLifecycleStub(chan)
        key = server.worker_key

        reg = fp.registration(server.tenant_id, name="bench-worker", host="bench-host",
                              pid=4242, worker_type="UNIFIED",
                              tasks=["bench-task-%02d" % i for i in range(10)])
        resp = stub.RegisterWorker(reg, metadata=fp.bearer(key), timeout=10)
        if not resp.success:
            sys.exit("registration failed: %s" % resp.error)
        worker_id = resp.worker_id

        base = "http://%s/flovyn.v1.WorkerLifecycle/" % server.grpc_target
        cases = {
            "heartbeat": ("SendHeartbeat", pb2.WorkerHeartbeatRequest(worker_id=worker_id),
                          args.requests),
            "register": ("RegisterWorker", reg, args.register_requests),
        }
        for name, (method, msg, requests) in cases.items():
            if args.only and args.only != name:
                continue
            payload = msg.SerializeToString()
            data_file = os.path.join(work, name + ".grpc")
            with open(data_file, "wb") as f:
                f.write(grpc_frame(payload))
            # The exact bytes h2load will send must succeed as a gRPC call.
            answer = check_frame_with_grpcio(chan, "/flovyn.v1.WorkerLifecycle/" + method,
                                             payload, key)
            if method == "RegisterWorker":
                again = pb2.WorkerRegistrationResponse.FromString(answer)
                if not again.success or again.worker_id != worker_id:
                    sys.exit("re-registration did not return the same worker: %s" % again)
            status = nghttp_status(base + method, data_file, key)
            print("%s: one call with grpcio OK; nghttp grpc-status %s; frame %d bytes"
                  % (method, status, len(payload) + 5))
            if method == "RegisterWorker":
                print("   (every request re-registers the same process: same name, host, pid,"
                      " 10 task capabilities)")
            log_mark = len(server.stderr)
            out, fig, lat = run_h2load(args, base + method, data_file, key, requests,
                                       os.path.join(work, name + ".log"))
            if args.show_h2load:
                print(out)
            report(method, fig, lat, args, requests)
            # h2load counts HTTP 200s; a gRPC failure under load would be an
            # error status in the trailers. Every request is the same valid
            # call, so such a failure could only come from the server itself,
            # which logs those (WARN/ERROR): show how many it logged.
            bad = [l for l in server.stderr[log_mark:] if " WARN " in l or " ERROR " in l]
            print("   server WARN/ERROR lines during the run: %d%s"
                  % (len(bad), ("  e.g. " + bad[0]) if bad else ""))
            # Still answering correctly after the load?
            check_frame_with_grpcio(chan, "/flovyn.v1.WorkerLifecycle/" + method, payload, key)
        chan.close()
    finally:
        rc = server.stop()
        shutil.rmtree(work, ignore_errors=True)
        print("server stopped (exit code %s)" % rc)


if __name__ == "__main__":
    main()
