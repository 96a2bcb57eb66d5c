#!/usr/bin/python3
"""Demo workers for `make run`: a few workers that register with a running
flovyn-server, heartbeat, and run the tasks submitted to their queues until
they are stopped, so that a newcomer sees a living system.

  billing-worker     TASK      tasks send-invoice, charge-card   (queue billing)
  etl-worker         UNIFIED   workflow nightly-etl; tasks extract, load
                                                                 (queue etl)
  onboarding-worker  WORKFLOW  workflow onboard-customer

They read the worker key and the tenant id from the credentials file that
`flovyn-server serve --dev --credentials-file PATH` writes, and use the
stubs of scripts/flovyn_proto.py (generated from proto/flovyn.proto).

A worker that serves task kinds long-polls its queue (PollTask, 5 s at a
time) under its registered worker id. For a kind it serves it reports
progress 0.5, logs one INFO line, works for about a second and completes the
task with {"kind", "attempt", "echo": <input>}; charge-card fails its first
attempt ("card declined"), so the server's retry shows. A kind it does not
serve is failed with "Unknown task kind: KIND", as the SDKs do. Each outcome
is one line on stdout.

Usage: /usr/bin/python3 scripts/demo-workers.py [--credentials FILE]
           [--target HOST:PORT] [--interval SECONDS] [--once]

SIGINT or SIGTERM stops them (exit 0): a poll in flight is cancelled and a
task being run is failed ("demo worker stopped"): the server retries it
while it has retries left.
A worker whose heartbeat is answered NOT_FOUND (removed by an operator or by
retention) registers again; while the server is unreachable they keep
retrying quietly. --once registers and heartbeats once, and runs no task.
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

# A worker with "tasks" runs them from its "queue".
DEMO_WORKERS = [
    dict(name="billing-worker", worker_type="TASK", version="1.4.2",
         tasks=["send-invoice", "charge-card"], queue="billing"),
    dict(name="etl-worker", worker_type="UNIFIED", version="2.0.0",
         workflows=["nightly-etl"], tasks=["extract", "load"], queue="etl"),
    dict(name="onboarding-worker", worker_type="WORKFLOW", version="0.9.0",
         workflows=["onboard-customer"]),
]


POLL_SECONDS = 5       # long-poll budget of one PollTask
WORK_SECONDS = 1.0     # how long a demo task "works"
RETRY_SECONDS = 1.0    # pause of the task loop after an error
# The kind that fails its first attempt, and how.
FLAKY_KIND = "charge-card"
FLAKY_ERROR = "card declined (demo: fails the first attempt)"
UNREACHABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED")

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


class Stopped(Exception):
    """The demo workers are stopping."""


class TaskRunner(threading.Thread):
    """Runs the tasks of one demo worker's queue, polling under the worker id
    its DemoWorker registered (the new one after a registration again).

    Errors are quiet and retried, as in the heartbeat loop: while the server
    is unreachable the heartbeat loop says so; other errors are said once
    until a call succeeds again."""

    def __init__(self, worker, stop):
        super().__init__(name=worker.spec["name"] + "-tasks", daemon=True)
        self.worker = worker
        self.spec = worker.spec
        self.name_ = worker.spec["name"]
        self.queue = worker.spec["queue"]
        self.kinds = set(worker.spec["tasks"])
        self.key = worker.key
        self.tenant_id = worker.tenant_id
        self.stop_event = stop
        self.md = fp.bearer(self.key)
        self.last_error = None

    def quiet_error(self, what, e):
        code = e.code().name
        if code not in UNREACHABLE and (what, code) != self.last_error:
            say("%s: %s: %s: %s (retrying)" % (self.name_, what, code, e.details()))
        self.last_error = (what, code)

    def call(self, fn, request, timeout=10.0, cancel_on_stop=True):
        """One unary call. With cancel_on_stop it is cancelled when the
        workers stop meanwhile (a long poll in flight is not waited for);
        Stopped is raised then."""
        import grpc

        fut = fn.future(request, metadata=self.md, timeout=timeout)
        while True:
            try:
                return fut.result(timeout=0.2)
            except grpc.FutureTimeoutError:
                if cancel_on_stop and self.stop_event.is_set():
                    fut.cancel()
                    raise Stopped()

    def finish(self, fn, request):
        """CompleteTask or FailTask, retried while the server is unreachable
        (until the workers stop: Stopped). A call in flight is not cancelled by
        a stop. Returns None when it was accepted, else the grpc.RpcError."""
        import grpc

        while True:
            try:
                self.call(fn, request, cancel_on_stop=False)
                return None
            except grpc.RpcError as e:
                if e.code().name not in UNREACHABLE:
                    return e
            if self.stop_event.wait(RETRY_SECONDS):
                raise Stopped()

    def run_task(self, stub, pb2, task):
        import grpc

        tid, kind, attempt = task.task_execution_id, task.kind, task.execution_count
        line = "%-17s ran %s %s attempt %d -> " % (self.name_, kind, tid, attempt)
        if kind not in self.kinds:
            error = "Unknown task kind: %s" % kind
            outcome = "FAILED: " + error
            err = self.finish(stub.FailTask,
                              pb2.FailTaskRequest(task_execution_id=tid, error=error))
        else:
            try:
                self.call(stub.ReportProgress, pb2.ReportProgressRequest(
                    task_execution_id=tid, progress=0.5, details="halfway"))
                self.call(stub.LogMessage, pb2.LogMessageRequest(
                    task_execution_id=tid, level="INFO",
                    message="%s: %s attempt %d halfway" % (self.name_, kind, attempt)))
            except grpc.RpcError:
                pass  # progress and logs are best effort
            if self.stop_event.wait(WORK_SECONDS):
                error = "demo worker stopped before the task finished"
                self.finish(stub.FailTask,
                            pb2.FailTaskRequest(task_execution_id=tid, error=error))
                say(line + "FAILED: " + error)
                raise Stopped()
            if kind == FLAKY_KIND and attempt <= 1:
                outcome = "FAILED: " + FLAKY_ERROR
                err = self.finish(stub.FailTask,
                                  pb2.FailTaskRequest(task_execution_id=tid, error=FLAKY_ERROR))
            else:
                try:
                    echo = json.loads(task.input) if task.input else None
                except ValueError:
                    echo = task.input.decode("utf-8", "replace")
                output = fp.json_bytes({"kind": kind, "attempt": attempt, "echo": echo})
                outcome = "COMPLETED"
                err = self.finish(stub.CompleteTask,
                                  pb2.CompleteTaskRequest(task_execution_id=tid, output=output))
        if err is not None:
            # Cancelled or taken back meanwhile (FAILED_PRECONDITION), or refused.
            outcome = "not accepted (%s: %s)" % (err.code().name, err.details())
        say(line + outcome)

    def run(self):
        import grpc

        pb2, pb2_grpc = fp.load()
        channel = fp.channel(self.worker.target)
        stub = pb2_grpc.TaskExecutionStub(channel)
        announced = False
        try:
            while not self.stop_event.is_set() and self.worker.is_alive():
                worker_id = self.worker.worker_id
                if worker_id is None:  # not registered (yet, or again)
                    self.stop_event.wait(0.1)
                    continue
                if not announced:
                    say("%-17s runs tasks of queue %s (%s)"
                        % (self.name_, self.queue, ", ".join(self.spec["tasks"])))
                    announced = True
                try:
                    resp = self.call(stub.PollTask, pb2.PollTaskRequest(
                        org_id=self.tenant_id, worker_id=worker_id, queue=self.queue,
                        timeout_seconds=POLL_SECONDS), timeout=POLL_SECONDS + 10)
                    self.last_error = None
                    if resp.HasField("task"):
                        self.run_task(stub, pb2, resp.task)
                except grpc.RpcError as e:
                    self.quiet_error("PollTask", e)
                    self.stop_event.wait(RETRY_SECONDS)
        except Stopped:
            pass
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
                    help="register, send one heartbeat each, and exit (status 1 on "
                         "failure); no task is run")
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
    runners = [] if args.once else [TaskRunner(w, stop) for w in workers if w.spec.get("tasks")]
    for t in workers + runners:
        t.start()
    if not args.once:
        say("%d workers heartbeating every %gs to %s (stop with Ctrl-C)"
            % (len(workers), args.interval, args.target))
    while any(t.is_alive() for t in workers + runners):
        for t in workers + runners:
            t.join(timeout=0.2)
    if not args.once:
        say("stopped")
    sys.exit(1 if any(w.failed for w in workers) else 0)


if __name__ == "__main__":
    main()
