#!/usr/bin/python3
"""Demo workers for `make run`: a few workers that register with a running
flovyn-server and heartbeat until they are stopped, so that a newcomer sees a
living system.

  billing-worker     TASK      tasks send-invoice, charge-card
  etl-worker         UNIFIED   workflow nightly-etl; tasks extract, load
  onboarding-worker  WORKFLOW  workflow onboard-customer

They read the worker key and the tenant id from the credentials file that
`flovyn-server serve --dev --credentials-file PATH` writes, and use the
stubs of scripts/flovyn_proto.py (generated from proto/flovyn.proto).

Usage: /usr/bin/python3 scripts/demo-workers.py [--credentials FILE]
           [--target HOST:PORT] [--interval SECONDS] [--once]

SIGINT or SIGTERM stops them (exit 0). A worker whose heartbeat is answered
NOT_FOUND (removed by an operator or by retention) registers again; while the
server is unreachable they keep retrying quietly.
"""
import argparse
import json
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import flovyn_proto as fp  # noqa: E402

DEMO_WORKERS = [
    dict(name="billing-worker", worker_type="TASK", version="1.4.2",
         tasks=["send-invoice", "charge-card"]),
    dict(name="etl-worker", worker_type="UNIFIED", version="2.0.0",
         workflows=["nightly-etl"], tasks=["extract", "load"]),
    dict(name="onboarding-worker", worker_type="WORKFLOW", version="0.9.0",
         workflows=["onboard-customer"]),
]


_say_lock = threading.Lock()


def say(msg):
    """One whole line on stdout (the worker threads share it)."""
    with _say_lock:
        sys.stdout.write("demo-workers: " + msg + "\n")
        sys.stdout.flush()


def describe(spec):
    parts = []
    if spec.get("workflows"):
        parts.append("workflows " + ", ".join(spec["workflows"]))
    if spec.get("tasks"):
        parts.append("tasks " + ", ".join(spec["tasks"]))
    return "; ".join(parts)


class DemoWorker(threading.Thread):
    def __init__(self, spec, target, creds, interval, stop, once):
        super().__init__(name=spec["name"], daemon=True)
        self.spec = spec
        self.target = target
        self.key = creds["workerKey"]
        self.tenant_id = creds["tenantId"]
        self.interval = interval
        self.stop_event = stop
        self.once = once
        self.worker_id = None
        self.failed = False

    def register(self, stub):
        resp = fp.register_worker(stub, self.key, self.tenant_id, name=self.spec["name"],
                                  worker_type=self.spec["worker_type"],
                                  version=self.spec["version"],
                                  workflows=self.spec.get("workflows", ()),
                                  tasks=self.spec.get("tasks", ()), timeout=5)
        if not resp.success:
            raise RuntimeError("registration refused: %s" % resp.error)
        self.worker_id = resp.worker_id
        say("%-17s registered id=%s (%s)" % (self.spec["name"], resp.worker_id,
                                             describe(self.spec)))

    def beat(self, stub):
        health = json.dumps({"status": "healthy", "demo": True}).encode()
        fp.heartbeat(stub, self.key, self.worker_id, timeout=5, health_info=health)

    def run(self):
        import grpc

        pb2, pb2_grpc = fp.load()
        channel = fp.channel(self.target)
        stub = pb2_grpc.WorkerLifecycleStub(channel)
        unreachable = False
        try:
            while not self.stop_event.is_set():
                try:
                    if self.worker_id is None:
                        self.register(stub)
                    else:
                        self.beat(stub)
                    if unreachable:
                        say("%s: server reachable again" % self.spec["name"])
                        unreachable = False
                    if self.once:
                        self.beat(stub)
                        return
                except grpc.RpcError as e:
                    code = e.code()
                    if code == grpc.StatusCode.NOT_FOUND and self.worker_id is not None:
                        say("%s: worker %s is gone (%s); registering again"
                            % (self.spec["name"], self.worker_id, e.details()))
                        self.worker_id = None
                        continue
                    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        if not unreachable:
                            say("%s: server unreachable (%s); retrying"
                                % (self.spec["name"], code.name))
                            unreachable = True
                        if self.once:
                            self.failed = True
                            return
                    else:
                        say("%s: %s: %s" % (self.spec["name"], code.name, e.details()))
                        self.failed = True
                        if code in (grpc.StatusCode.UNAUTHENTICATED,
                                    grpc.StatusCode.PERMISSION_DENIED) or self.once:
                            return
                self.stop_event.wait(self.interval)
        finally:
            channel.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--credentials", default="build/dev-credentials.json",
                    help="credentials file written by flovyn-server --dev "
                         "(default: build/dev-credentials.json)")
    ap.add_argument("--target", default="127.0.0.1:9090",
                    help="gRPC address of the server (default: 127.0.0.1:9090)")
    ap.add_argument("--interval", type=float, default=10.0,
                    help="seconds between heartbeats (default: 10)")
    ap.add_argument("--once", action="store_true",
                    help="register, send one heartbeat each, and exit (status 1 on failure)")
    args = ap.parse_args()
    if args.interval <= 0:
        ap.error("--interval must be positive")

    try:
        with open(args.credentials) as f:
            creds = json.load(f)
        creds["workerKey"], creds["tenantId"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit("demo-workers: cannot read the credentials file %s: %s" % (args.credentials, e))

    fp.load()  # generate the stubs once, before the threads
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    workers = [DemoWorker(spec, args.target, creds, args.interval, stop, args.once)
               for spec in DEMO_WORKERS]
    for w in workers:
        w.start()
    if not args.once:
        say("%d workers heartbeating every %gs to %s (stop with Ctrl-C)"
            % (len(workers), args.interval, args.target))
    while any(w.is_alive() for w in workers):
        for w in workers:
            w.join(timeout=0.2)
    if not args.once:
        say("stopped")
    sys.exit(1 if any(w.failed for w in workers) else 0)


if __name__ == "__main__":
    main()
