#!/usr/bin/python3
"""Standalone tasks over gRPC (flovyn.v1.TaskExecution) against the real flovyn-server.

A worker built with Debian's python3-grpcio from proto/flovyn.proto (through
scripts/flovyn_proto.py) really runs tasks on `flovyn-server serve --memory
--dev` (with FLOVYN_E2E_BUNDLE=postgres, on a fresh database of the ctest
cluster): success, failure then retry with a higher execution_count, retries
exhausted, cancel while PENDING and while RUNNING, the long poll (woken by a
submit, answered empty at its timeout or before its deadline, cancelled by its
client, 50 parked polls at SIGTERM), 8 pollers and 500 tasks, queue isolation,
a worker process killed mid-task whose task is reclaimed and completed by
another worker, idempotency keys, progress/logs/stream data/state, and every
kind of bad input (grpc-contract.md 2.5-2.9, spec decisions 12-16 and 21).

There is no REST task route yet, so what a task became is read through what
gRPC shows: a finished task answers CompleteTask/Heartbeat FAILED_PRECONDITION
and is never polled again.

Timings (the long poll's wake-up latency) are printed, never asserted; every
wait is bounded.

Usage: /usr/bin/python3 tests/e2e/test_grpc_tasks.py PATH/TO/flovyn-server
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
import flovyn_proto as fp  # noqa: E402

import grpc  # noqa: E402

pb2, pb2_grpc = fp.load()
SC = grpc.StatusCode

SERVER_BINARY = None  # set from argv in __main__
SERVER = None         # the server shared by TaskTest

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "LeakSanitizer",
                     "runtime error:")


def say(what, detail=""):
    print("  ok: %s%s" % (what, "  (%s)" % detail if detail else ""), flush=True)


def rpc_error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    return None


def code_of(err):
    return err.code() if err is not None else SC.OK


def fresh_queue(prefix="q"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def check_clean_exit(testcase, server, rc, what):
    stderr = server.stderr_text()
    testcase.assertEqual(rc, 0, "%s: exit code %s (None = still running)\n%s"
                         % (what, rc, stderr[-3000:]))
    reports = [m for m in SANITIZER_MARKERS if m in stderr]
    testcase.assertEqual(reports, [], stderr[-3000:])


def rest(srv, method, path, key, body=None):
    """One REST call to the server; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.http_base + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + key,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def setUpModule():
    global SERVER
    SERVER = fp.test_server(SERVER_BINARY)
    SERVER.start()
    print("# flovyn-server (%s bundle) on %s, tenant %s (%s)"
          % (SERVER.bundle, SERVER.grpc_target, SERVER.tenant, SERVER.tenant_id), flush=True)


def tearDownModule():
    if SERVER is None:
        return
    rc = SERVER.stop()
    stderr = SERVER.stderr_text()
    reports = [m for m in SANITIZER_MARKERS if m in stderr]
    if rc != 0 or reports:
        raise AssertionError("shared server: exit code %s, sanitizer reports %s\n%s"
                             % (rc, reports, stderr[-3000:]))
    say("shared server stopped by SIGTERM -> exit 0, no sanitizer report")


class Worker:
    """A worker of one server: a registered identity and the calls it makes."""

    def __init__(self, srv, kinds=("e2e-task",), key=None, org=None, name="e2e-task-worker",
                 channel=None):
        self.srv = srv
        self.key = key or srv.worker_key
        self.org = org or srv.tenant_id
        self.chan = channel or fp.channel(srv.grpc_target)
        self.own_channel = channel is None
        self.life = pb2_grpc.WorkerLifecycleStub(self.chan)
        self.tasks = pb2_grpc.TaskExecutionStub(self.chan)
        self.md = fp.bearer(self.key)
        resp = fp.register_worker(self.life, self.key, self.org, name=name,
                                  pid=uuid.uuid4().int % 10**9, tasks=list(kinds))
        self.id = resp.worker_id

    def close(self):
        if self.own_channel:
            self.chan.close()

    def submit(self, kind="e2e-task", input=None, queue="", **fields):
        return fp.submit_task(self.tasks, self.key, self.org, kind, input, queue, **fields)

    def poll(self, queue="", timeout_seconds=0, timeout=None, worker_id=None):
        return fp.poll_task(self.tasks, self.key, self.org, worker_id or self.id, queue,
                            timeout_seconds, timeout)

    def complete(self, task_id, output=None):
        return self.tasks.CompleteTask(
            pb2.CompleteTaskRequest(task_execution_id=task_id,
                                    output=fp.json_bytes(output) if output is not None else b""),
            metadata=self.md, timeout=10)

    def fail(self, task_id, error="boom"):
        return self.tasks.FailTask(pb2.FailTaskRequest(task_execution_id=task_id, error=error),
                                   metadata=self.md, timeout=10)

    def heartbeat(self, task_id):
        return self.tasks.Heartbeat(pb2.HeartbeatRequest(task_execution_id=task_id),
                                    metadata=self.md, timeout=10)

    def cancel(self, task_id):
        return self.tasks.CancelTask(pb2.CancelTaskRequest(task_execution_id=task_id),
                                     metadata=self.md, timeout=10)


class TaskTest(unittest.TestCase):
    """Everything one shared server can answer."""

    @classmethod
    def setUpClass(cls):
        cls.w = Worker(SERVER, kinds=("e2e-task", "e2e-other"))

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def assertCode(self, err, code, what):
        self.assertEqual(code_of(err), code,
                         "%s: got %s %r" % (what, code_of(err), err.details() if err else ""))

    def claim(self, queue, timeout_seconds=5, worker=None):
        """Polls until a task arrives (the long poll waits for it)."""
        t = (worker or self.w).poll(queue, timeout_seconds=timeout_seconds)
        self.assertIsNotNone(t, "no task on %s within %d s" % (queue, timeout_seconds))
        return t

    def assertFinished(self, task_id, what):
        """A task that is no longer RUNNING: Complete, Fail and Heartbeat
        answer FAILED_PRECONDITION (decisions 15 and 21)."""
        self.assertCode(rpc_error(self.w.complete, task_id, {"late": True}),
                        SC.FAILED_PRECONDITION, what + ": CompleteTask")
        self.assertCode(rpc_error(self.w.fail, task_id, "late"), SC.FAILED_PRECONDITION,
                        what + ": FailTask")
        self.assertCode(rpc_error(self.w.heartbeat, task_id), SC.FAILED_PRECONDITION,
                        what + ": Heartbeat")

    # -- a worker running tasks ----------------------------------------------

    def test_success_with_output(self):
        q = fresh_queue()
        sub = self.w.submit(input={"a": 1, "b": 2}, queue=q)
        self.assertFalse(sub.idempotency_key_used)
        self.assertTrue(sub.idempotency_key_new)
        uuid.UUID(sub.task_execution_id)
        t = self.claim(q)
        self.assertEqual(t.task_execution_id, sub.task_execution_id)
        self.assertEqual(t.kind, "e2e-task")
        self.assertEqual(json.loads(t.input), {"a": 1, "b": 2})
        self.assertEqual(t.workflow_execution_id, "")
        self.assertEqual(t.execution_count, 1)
        self.assertEqual(t.queue, q)
        self.assertFalse(t.HasField("worker_pool_id"))
        self.w.heartbeat(t.task_execution_id)  # RUNNING: OK
        self.w.complete(t.task_execution_id, {"sum": 3})
        self.assertFinished(t.task_execution_id, "COMPLETED task")
        self.assertIsNone(self.w.poll(q, timeout_seconds=0))
        say("submit -> poll (execution_count 1, input, queue) -> complete with output; "
            "afterwards Complete/Fail/Heartbeat -> FAILED_PRECONDITION, nothing to poll")

    def test_default_queue_and_no_input(self):
        # "" is the queue "default" both ways; no input reads as JSON null.
        # Another worker identity (a client-side name, as the Rust SDK sends).
        sub = self.w.submit(kind="e2e-other", queue="")
        got = None
        for _ in range(50):  # the default queue may hold tasks of other tests: none here
            t = self.w.poll("default", timeout_seconds=2, worker_id="worker-" + uuid.uuid4().hex)
            self.assertIsNotNone(t, "nothing on the default queue")
            if t.task_execution_id == sub.task_execution_id:
                got = t
                break
            self.w.complete(t.task_execution_id)
        self.assertIsNotNone(got)
        self.assertEqual(got.queue, "default")
        self.assertEqual(json.loads(got.input), None)
        self.w.complete(got.task_execution_id)
        say("queue \"\" is \"default\"; absent input polls as JSON null; a client-side "
            "worker name may poll")

    def test_failure_then_retry(self):
        q = fresh_queue()
        sub = self.w.submit(input={"n": 1}, queue=q, max_retries=2)
        t1 = self.claim(q)
        self.assertEqual(t1.execution_count, 1)
        self.w.fail(t1.task_execution_id, "transient")
        t2 = self.claim(q)
        self.assertEqual(t2.task_execution_id, sub.task_execution_id)
        self.assertEqual(t2.execution_count, 2)
        self.w.fail(t2.task_execution_id, "transient again")
        t3 = self.claim(q)
        self.assertEqual(t3.execution_count, 3)
        self.w.complete(t3.task_execution_id, "done")
        self.assertFinished(t3.task_execution_id, "completed after retries")
        say("max_retries 2: fail, fail, complete -> execution_count 1, 2, 3, same task")

    def test_retries_exhausted(self):
        q = fresh_queue()
        sub = self.w.submit(queue=q, max_retries=1)
        t1 = self.claim(q)
        self.w.fail(t1.task_execution_id, "first")
        t2 = self.claim(q)
        self.assertEqual((t2.task_execution_id, t2.execution_count),
                         (sub.task_execution_id, 2))
        self.w.fail(t2.task_execution_id, "second")
        self.assertFinished(sub.task_execution_id, "FAILED task")
        self.assertCode(rpc_error(self.w.cancel, sub.task_execution_id), SC.FAILED_PRECONDITION,
                        "CancelTask on a FAILED task")
        self.assertIsNone(self.w.poll(q, timeout_seconds=1))
        say("max_retries 1: two failures -> FAILED (Complete/Fail/Heartbeat/Cancel -> "
            "FAILED_PRECONDITION, never polled again)")

    def test_definition_timeout_and_backoff(self):
        # The operator's configuration of the task definition rules the task:
        # an attempt times out after 1 s (the timeouts job), the retry waits
        # 1.5 s (scheduled_at: the parked poll is woken when it is due), and
        # maxRetries 1 leaves no third attempt.
        kind = "e2e-slow-" + uuid.uuid4().hex[:8]
        w = Worker(SERVER, kinds=(kind,), name="e2e-slow-worker", channel=self.w.chan)
        st, d = rest(SERVER, "PATCH", "/api/tenants/%s/task-definitions/%s/configuration"
                     % (SERVER.tenant, kind), SERVER.operator_key,
                     {"timeoutSeconds": 1, "retryPolicy": {"maxRetries": 1,
                                                           "initialDelayMs": 1500}})
        self.assertEqual(st, 200, d)
        q = fresh_queue("slow")
        sub = w.submit(kind=kind, queue=q)
        t1 = self.claim(q, worker=w)
        self.assertEqual(t1.execution_count, 1)
        t_claim = time.monotonic()
        # Attempt 1 is never reported: it times out, goes back to PENDING
        # scheduled 1.5 s later, and this parked poll gets attempt 2.
        t2 = w.poll(q, timeout_seconds=30, timeout=40)
        waited = time.monotonic() - t_claim
        self.assertIsNotNone(t2, "attempt 2 never came")
        self.assertEqual((t2.task_execution_id, t2.execution_count), (sub.task_execution_id, 2))
        w.fail(t2.task_execution_id, "still too slow")
        self.assertFinished(sub.task_execution_id, "FAILED after the definition's retries")
        self.assertIsNone(w.poll(q, timeout_seconds=2))
        say("definition configuration (timeout 1 s, maxRetries 1, backoff 1.5 s): attempt 1 "
            "timed out, attempt 2 delivered to a parked poll when due, its failure -> FAILED",
            "%.1f s from the first claim to the second" % waited)

    def test_cancel_pending(self):
        q = fresh_queue()
        sub = self.w.submit(queue=q)
        self.w.cancel(sub.task_execution_id)
        self.assertIsNone(self.w.poll(q, timeout_seconds=1))
        self.assertCode(rpc_error(self.w.heartbeat, sub.task_execution_id),
                        SC.FAILED_PRECONDITION, "Heartbeat on a cancelled task")
        self.assertCode(rpc_error(self.w.cancel, sub.task_execution_id), SC.FAILED_PRECONDITION,
                        "a second CancelTask")
        say("CancelTask while PENDING -> OK; a later poll does not get it; cancel again -> "
            "FAILED_PRECONDITION")

    def test_cancel_running(self):
        q = fresh_queue()
        sub = self.w.submit(queue=q)
        t = self.claim(q)
        self.w.heartbeat(t.task_execution_id)
        self.w.cancel(sub.task_execution_id)
        # How the worker learns of it (decision 21), and its late outcome
        # does not revive the task (decision 15).
        self.assertFinished(t.task_execution_id, "cancelled RUNNING task")
        self.assertIsNone(self.w.poll(q, timeout_seconds=1))
        say("CancelTask while RUNNING -> Heartbeat FAILED_PRECONDITION; the worker's later "
            "Complete/Fail -> FAILED_PRECONDITION; not polled again")

    # -- the long poll -----------------------------------------------------------

    def test_long_poll_woken_by_submit(self):
        latencies = []
        for _ in range(5):
            q = fresh_queue("lp")
            box = {}

            def poller():
                t0 = time.monotonic()
                box["task"] = self.w.poll(q, timeout_seconds=20, timeout=30)
                box["t"] = time.monotonic()
                box["waited"] = box["t"] - t0

            th = threading.Thread(target=poller)
            th.start()
            time.sleep(0.3)  # let the poll park (not an assertion: it works either way)
            t_submit = time.monotonic()
            sub = self.w.submit(queue=q)
            th.join(35)
            self.assertFalse(th.is_alive())
            self.assertIsNotNone(box.get("task"), "the poll returned no task")
            self.assertEqual(box["task"].task_execution_id, sub.task_execution_id)
            self.assertLess(box["waited"], 20.0, "the poll outlived its own timeout")
            latencies.append((box["t"] - t_submit) * 1000)
            self.w.complete(sub.task_execution_id)
        print("  long-poll wake-up latency, from the SubmitTask call to the parked poll's "
              "answer (%s bundle, submit round trip included): min %.1f ms, median %.1f ms, "
              "max %.1f ms" % (SERVER.bundle, min(latencies), statistics.median(latencies),
                               max(latencies)), flush=True)
        say("5 parked polls (timeout 20 s) each woken by a submit with that task")

    def test_poll_and_submit_racing(self):
        # A poll and a submit of its queue sent at the same moment, 250 times
        # over 4 threads (1000 in all): whichever lands first, the poll answers with the
        # task. A submit landing between the poll's empty claim and its
        # parking must still wake it (else it would answer empty after 30 s).
        rounds, failures, lock = 250, [], threading.Lock()

        def racer(k):
            chan = fp.channel(SERVER.grpc_target)
            stub = pb2_grpc.TaskExecutionStub(chan)
            md = fp.bearer(SERVER.worker_key)
            for r in range(rounds):
                q = fresh_queue("race%d" % k)
                fut = stub.PollTask.future(pb2.PollTaskRequest(
                    org_id=SERVER.tenant_id, worker_id="racer-%d" % k, queue=q,
                    timeout_seconds=30), metadata=md, timeout=40)
                sub = fp.submit_task(stub, SERVER.worker_key, SERVER.tenant_id, "e2e-task",
                                     queue=q)
                try:
                    resp = fut.result(45)
                    got = resp.task.task_execution_id if resp.HasField("task") else None
                except grpc.RpcError as e:
                    got = "%s %s" % (e.code(), e.details())
                if got != sub.task_execution_id:
                    with lock:
                        failures.append((k, r, got))
                else:
                    stub.CompleteTask(pb2.CompleteTaskRequest(task_execution_id=got),
                                      metadata=md, timeout=10)
            chan.close()

        threads = [threading.Thread(target=racer, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertFalse(any(th.is_alive() for th in threads), "racers still running")
        self.assertEqual(failures, [])
        say("1000 polls (timeout 30 s) racing a submit of their queue -> each answered with "
            "its task")

    def test_empty_poll_at_timeout(self):
        q = fresh_queue()
        t0 = time.monotonic()
        t = self.w.poll(q, timeout_seconds=1, timeout=10)
        waited = time.monotonic() - t0
        self.assertIsNone(t)
        # A poll whose deadline comes before its timeout_seconds: answered OK
        # and empty before the deadline, never DEADLINE_EXCEEDED.
        t0 = time.monotonic()
        try:
            t = self.w.poll(q, timeout_seconds=30, timeout=1.5)
        except grpc.RpcError as e:
            self.fail("deadline-bounded poll: %s %s" % (e.code(), e.details()))
        bounded = time.monotonic() - t0
        self.assertIsNone(t)
        say("empty queue: poll of 1 s -> OK without a task; poll of 30 s with a 1.5 s deadline "
            "-> OK without a task, not DEADLINE_EXCEEDED",
            "answered after %.2f s and %.2f s" % (waited, bounded))

    def test_timeout_zero_answers_at_once(self):
        q = fresh_queue()
        t0 = time.monotonic()
        for ts in (0, -5):
            self.assertIsNone(self.w.poll(q, timeout_seconds=ts, timeout=5))
        say("timeout_seconds 0 and -5 on an empty queue -> OK without a task",
            "%.1f ms for both" % ((time.monotonic() - t0) * 1000))

    def test_cancelled_poll_is_cleaned_up(self):
        q = fresh_queue("cx")
        req = pb2.PollTaskRequest(org_id=SERVER.tenant_id, worker_id="gone", queue=q,
                                  timeout_seconds=60)
        futures = [self.w.tasks.PollTask.future(req, metadata=self.w.md, timeout=90)
                   for _ in range(3)]
        time.sleep(0.5)  # let them park
        for f in futures:
            f.cancel()
        for f in futures:
            self.assertTrue(f.cancelled())
        box = {}
        th = threading.Thread(target=lambda: box.update(t=self.w.poll(q, timeout_seconds=20)))
        th.start()
        time.sleep(0.3)
        sub = self.w.submit(queue=q)
        th.join(30)
        self.assertIsNotNone(box.get("t"), "the live poller got nothing")
        self.assertEqual(box["t"].task_execution_id, sub.task_execution_id)
        self.assertEqual(box["t"].execution_count, 1)
        self.w.complete(sub.task_execution_id)
        say("3 parked polls cancelled by their client, then a submit -> the live poller gets "
            "the task (attempt 1)")

    def test_8_pollers_500_tasks(self):
        q = fresh_queue("many")
        n_tasks, n_pollers = 500, 8
        claimed, errors = [], []
        lock = threading.Lock()
        done = threading.Event()
        chans = [fp.channel(SERVER.grpc_target) for _ in range(n_pollers)]
        stubs = [pb2_grpc.TaskExecutionStub(c) for c in chans]

        def poller(i):
            while not done.is_set():
                try:
                    t = fp.poll_task(stubs[i], SERVER.worker_key, SERVER.tenant_id,
                                     "poller-%d" % i, q, timeout_seconds=2)
                    if t is None:
                        continue
                    stubs[i].CompleteTask(
                        pb2.CompleteTaskRequest(task_execution_id=t.task_execution_id,
                                                output=fp.json_bytes({"by": i})),
                        metadata=fp.bearer(SERVER.worker_key), timeout=10)
                    with lock:
                        claimed.append(t.task_execution_id)
                        if len(claimed) >= n_tasks:
                            done.set()
                except grpc.RpcError as e:
                    with lock:
                        errors.append("%s %s" % (e.code(), e.details()))
                    if len(errors) > 20:
                        done.set()

        threads = [threading.Thread(target=poller, args=(i,)) for i in range(n_pollers)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        submitted = []
        for k in range(n_tasks):
            submitted.append(self.w.submit(queue=q, input={"k": k}).task_execution_id)
        finished = done.wait(120)
        done.set()
        for th in threads:
            th.join(30)
        elapsed = time.monotonic() - t0
        for c in chans:
            c.close()
        self.assertEqual(errors, [])
        self.assertTrue(finished, "only %d of %d tasks claimed in 120 s" % (len(claimed), n_tasks))
        self.assertEqual(len(claimed), n_tasks)
        self.assertEqual(len(set(claimed)), n_tasks, "a task was claimed twice")
        self.assertEqual(set(claimed), set(submitted))
        say("8 pollers (long polls), 500 tasks -> each claimed and completed exactly once",
            "%.1f s, %.0f tasks/s" % (elapsed, n_tasks / elapsed))

    def test_queue_isolation(self):
        qa, qb = fresh_queue("qa"), fresh_queue("qb")
        box = {}
        th = threading.Thread(target=lambda: box.update(t=self.w.poll(qa, timeout_seconds=2)))
        th.start()
        time.sleep(0.3)
        sub = self.w.submit(queue=qb)
        th.join(15)
        self.assertFalse(th.is_alive())
        self.assertIsNone(box["t"], "a poll on queue A got queue B's task")
        self.assertIsNone(self.w.poll(qa, timeout_seconds=0))
        t = self.w.poll(qb, timeout_seconds=0)
        self.assertIsNotNone(t)
        self.assertEqual(t.task_execution_id, sub.task_execution_id)
        self.w.complete(t.task_execution_id)
        say("a parked poll on queue A is not woken by queue B's submit; B's poll gets it")

    # -- idempotency ---------------------------------------------------------------

    def test_idempotency(self):
        key = "order-" + uuid.uuid4().hex
        q = fresh_queue()
        a = self.w.submit(queue=q, idempotency_key=key, idempotency_key_ttl_seconds=600)
        self.assertTrue(a.idempotency_key_used)
        self.assertTrue(a.idempotency_key_new)
        b = self.w.submit(queue=q, idempotency_key=key)
        self.assertEqual(b.task_execution_id, a.task_execution_id)
        self.assertTrue(b.idempotency_key_used)
        self.assertFalse(b.idempotency_key_new)
        err = rpc_error(self.w.submit, kind="e2e-other", queue=q, idempotency_key=key)
        self.assertCode(err, SC.ALREADY_EXISTS, "same key, another kind")
        c = self.w.submit(queue=q)
        self.assertFalse(c.idempotency_key_used)
        self.assertTrue(c.idempotency_key_new)
        # A key whose task was cancelled may be used again: a new task.
        self.w.cancel(a.task_execution_id)
        d = self.w.submit(queue=q, idempotency_key=key)
        self.assertTrue(d.idempotency_key_new)
        self.assertNotEqual(d.task_execution_id, a.task_execution_id)
        for t in (c, d):
            self.w.cancel(t.task_execution_id)
        say("idempotency: new (used, new), again (used, same id, not new), other kind -> "
            "ALREADY_EXISTS, no key (not used, new), reused after cancel (new task)",
            err.details())

    # -- progress, logs, stream data, state -------------------------------------------

    def test_progress_logs_stream_and_state(self):
        q = fresh_queue()
        self.w.submit(queue=q)
        t = self.claim(q)
        tid = t.task_execution_id
        md, stub = self.w.md, self.w.tasks
        stub.ReportProgress(pb2.ReportProgressRequest(task_execution_id=tid, progress=0.5,
                                                      details="half way"),
                            metadata=md, timeout=10)
        for level in ("DEBUG", "INFO", "WARN", "ERROR"):
            stub.LogMessage(pb2.LogMessageRequest(task_execution_id=tid, level=level,
                                                  message="a %s line" % level),
                            metadata=md, timeout=10)
        events = [(pb2.TOKEN, {"type": "token", "text": "hel"}),
                  (pb2.TOKEN, {"type": "token", "text": "lo"}),
                  (pb2.PROGRESS, {"type": "progress", "progress": 0.7}),
                  (pb2.DATA, {"type": "data", "data": {"rows": [1, 2]}}),
                  (pb2.ERROR, {"type": "error", "message": "soft", "code": "E1"})]
        for typ, payload in events:
            # sequence 0 every time, as FFI clients send: never deduplicated.
            r = stub.StreamTaskData(pb2.StreamTaskDataRequest(
                task_execution_id=tid, sequence=0, type=typ, payload=json.dumps(payload),
                timestamp_ms=int(time.time() * 1000)), metadata=md, timeout=10)
            self.assertTrue(r.acknowledged)

        def get(key):
            return stub.GetState(pb2.GetStateRequest(task_execution_id=tid, key=key),
                                 metadata=md, timeout=10)

        def keys():
            return sorted(stub.GetStateKeys(pb2.GetStateKeysRequest(task_execution_id=tid),
                                            metadata=md, timeout=10).keys)

        r = get("cursor")
        self.assertEqual((r.found, r.value), (False, b""))
        stub.SetState(pb2.SetStateRequest(task_execution_id=tid, key="cursor",
                                          value=fp.json_bytes({"page": 3})),
                      metadata=md, timeout=10)
        stub.SetState(pb2.SetStateRequest(task_execution_id=tid, key="seen",
                                          value=fp.json_bytes([1, 2, 3])),
                      metadata=md, timeout=10)
        r = get("cursor")
        self.assertTrue(r.found)
        self.assertEqual(json.loads(r.value), {"page": 3})
        self.assertEqual(keys(), ["cursor", "seen"])
        stub.ClearState(pb2.ClearStateRequest(task_execution_id=tid, key="cursor"),
                        metadata=md, timeout=10)
        self.assertFalse(get("cursor").found)
        self.assertEqual(keys(), ["seen"])
        stub.ClearAllState(pb2.ClearAllStateRequest(task_execution_id=tid), metadata=md,
                           timeout=10)
        self.assertEqual(keys(), [])

        self.w.complete(tid, {"ok": True})
        # Late progress, logs and stream data are accepted (decision 15).
        stub.ReportProgress(pb2.ReportProgressRequest(task_execution_id=tid, progress=1.0),
                            metadata=md, timeout=10)
        stub.LogMessage(pb2.LogMessageRequest(task_execution_id=tid, level="INFO",
                                              message="after the end"),
                        metadata=md, timeout=10)
        r = stub.StreamTaskData(pb2.StreamTaskDataRequest(
            task_execution_id=tid, type=pb2.TOKEN, payload='{"type":"token","text":"late"}'),
            metadata=md, timeout=10)
        self.assertTrue(r.acknowledged)
        self.assertFinished(tid, "completed task")
        say("on a RUNNING task: progress, logs at 4 levels, 5 stream events (sequence 0), state "
            "set/get/keys/clear/clear all; after completion progress, log and stream data -> OK")

    # -- bad input ----------------------------------------------------------------------

    def test_backlog_in_definitions_and_metrics(self):
        """Each task definition shows its backlog (pending count, oldest
        pending) over REST, and /_/metrics exports it by tenant and kind."""
        kind = "e2e-backlog-" + uuid.uuid4().hex[:6]
        q = fresh_queue("backlog")
        w = Worker(SERVER, kinds=(kind,), name="backlog-worker")
        P = "/api/tenants/%s/task-definitions/%s" % (SERVER.tenant, kind)
        st, d = rest(SERVER, "GET", P, SERVER.operator_key)
        self.assertEqual((st, d["pendingTasks"], d["oldestPendingAt"]), (200, 0, None), d)
        for i in range(3):
            w.submit(kind=kind, input={"i": i}, queue=q)
        st, d = rest(SERVER, "GET", P, SERVER.operator_key)
        self.assertEqual((st, d["pendingTasks"]), (200, 3), d)
        self.assertIsNotNone(d["oldestPendingAt"])
        st, lst = rest(SERVER, "GET", "/api/tenants/%s/task-definitions?limit=100"
                       % SERVER.tenant, SERVER.operator_key)
        self.assertEqual([x["pendingTasks"] for x in lst if x["kind"] == kind], [3])
        line = 'flovyn_task_backlog{tenant_id="%s",kind="%s"} 3' % (SERVER.tenant_id, kind)
        st, text = rest(SERVER, "GET", "/_/metrics", SERVER.operator_key)
        self.assertIn(line, text.splitlines())
        t = w.poll(q, timeout_seconds=5)
        w.complete(t.task_execution_id)
        st, d = rest(SERVER, "GET", P, SERVER.operator_key)
        self.assertEqual(d["pendingTasks"], 2)
        st, text = rest(SERVER, "GET", "/_/metrics", SERVER.operator_key)
        self.assertIn(line[:-1] + "2", text.splitlines())
        while w.poll(q) is not None:
            pass
        st, d = rest(SERVER, "GET", P, SERVER.operator_key)
        self.assertEqual((d["pendingTasks"], d["oldestPendingAt"]), (0, None))
        w.close()
        say("backlog: task definition pendingTasks 0 -> 3 -> 2 -> 0 with oldestPendingAt, "
            "flovyn_task_backlog{tenant_id,kind} 3 -> 2 in /_/metrics")

    def test_submit_warns_when_no_online_worker_declares_the_kind(self):
        """A warning, not a refusal: the task is stored (and claimable), and
        the answer's trailing metadata says nobody ONLINE declares its kind."""
        def submit(kind):
            req = pb2.SubmitTaskRequest(org_id=SERVER.tenant_id, kind=kind, queue=q)
            resp, call = self.w.tasks.SubmitTask.with_call(req, metadata=self.w.md, timeout=10)
            return resp, dict(call.trailing_metadata() or ())

        q = fresh_queue("warn")
        resp, trailers = submit("nobody-runs-this")
        self.assertIn("no ONLINE worker declares", trailers.get("flovyn-warning", ""), trailers)
        got = self.claim(q)
        self.assertEqual(got.task_execution_id, resp.task_execution_id)
        self.w.complete(got.task_execution_id)
        resp, trailers = submit("e2e-task")  # the shared worker declares it and is ONLINE
        self.assertNotIn("flovyn-warning", trailers)
        self.w.complete(self.claim(q).task_execution_id)
        say("SubmitTask of a kind no ONLINE worker declares: stored, claimable, and answered "
            "with trailing metadata flovyn-warning; none for a served kind")

    def test_bad_org_ids(self):
        for bad in ("not-a-uuid", "", "00000000-0000-0000-0000-00000000000"):
            err = rpc_error(fp.submit_task, self.w.tasks, self.w.key, bad, "e2e-task")
            self.assertCode(err, SC.INVALID_ARGUMENT, "SubmitTask org_id %r" % bad)
            err = rpc_error(fp.poll_task, self.w.tasks, self.w.key, bad, "w")
            self.assertCode(err, SC.INVALID_ARGUMENT, "PollTask org_id %r" % bad)
        for other in (str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"):
            err = rpc_error(fp.submit_task, self.w.tasks, self.w.key, other, "e2e-task")
            self.assertCode(err, SC.PERMISSION_DENIED, "SubmitTask org_id %s" % other)
            err = rpc_error(fp.poll_task, self.w.tasks, self.w.key, other, "w",
                            timeout_seconds=5)
            self.assertCode(err, SC.PERMISSION_DENIED, "PollTask org_id %s" % other)
        say("malformed org_id -> INVALID_ARGUMENT, another tenant's -> PERMISSION_DENIED "
            "(SubmitTask, PollTask)")

    def task_id_calls(self, tid):
        """Every method that names a task, as (name, callable)."""
        s, md = self.w.tasks, self.w.md
        return [
            ("CompleteTask", lambda: s.CompleteTask(
                pb2.CompleteTaskRequest(task_execution_id=tid), metadata=md, timeout=10)),
            ("FailTask", lambda: s.FailTask(pb2.FailTaskRequest(task_execution_id=tid),
                                            metadata=md, timeout=10)),
            ("ReportProgress", lambda: s.ReportProgress(
                pb2.ReportProgressRequest(task_execution_id=tid, progress=0.1),
                metadata=md, timeout=10)),
            ("Heartbeat", lambda: s.Heartbeat(pb2.HeartbeatRequest(task_execution_id=tid),
                                              metadata=md, timeout=10)),
            ("CancelTask", lambda: s.CancelTask(pb2.CancelTaskRequest(task_execution_id=tid),
                                                metadata=md, timeout=10)),
            ("LogMessage", lambda: s.LogMessage(
                pb2.LogMessageRequest(task_execution_id=tid, level="INFO", message="m"),
                metadata=md, timeout=10)),
            ("GetState", lambda: s.GetState(pb2.GetStateRequest(task_execution_id=tid, key="k"),
                                            metadata=md, timeout=10)),
            ("SetState", lambda: s.SetState(
                pb2.SetStateRequest(task_execution_id=tid, key="k", value=b"1"),
                metadata=md, timeout=10)),
            ("ClearState", lambda: s.ClearState(
                pb2.ClearStateRequest(task_execution_id=tid, key="k"), metadata=md, timeout=10)),
            ("ClearAllState", lambda: s.ClearAllState(
                pb2.ClearAllStateRequest(task_execution_id=tid), metadata=md, timeout=10)),
            ("GetStateKeys", lambda: s.GetStateKeys(
                pb2.GetStateKeysRequest(task_execution_id=tid), metadata=md, timeout=10)),
            ("StreamTaskData", lambda: s.StreamTaskData(
                pb2.StreamTaskDataRequest(task_execution_id=tid, type=pb2.TOKEN,
                                          payload='{"type":"token","text":"x"}'),
                metadata=md, timeout=10)),
        ]

    def test_bad_and_unknown_task_ids(self):
        for bad in ("not-a-uuid", "", "1234"):
            for name, call in self.task_id_calls(bad):
                err = rpc_error(call)
                self.assertCode(err, SC.INVALID_ARGUMENT, "%s with id %r" % (name, bad))
                self.assertIn("invalid task_execution_id", err.details())
        unknown = str(uuid.uuid4())
        for name, call in self.task_id_calls(unknown):
            self.assertCode(rpc_error(call), SC.NOT_FOUND, "%s with an unknown id" % name)
        say("12 task methods: malformed id -> INVALID_ARGUMENT \"invalid task_execution_id\", "
            "unknown id -> NOT_FOUND")

    def test_other_tenants_task_is_not_found(self):
        slug = "globex-" + uuid.uuid4().hex[:8]
        st, t = rest(SERVER, "POST", "/api/tenants", SERVER.admin_key,
                     {"slug": slug, "name": "Globex"})
        self.assertEqual(st, 201, t)
        st, k = rest(SERVER, "POST", "/api/tenants/%s/api-keys" % slug, t["adminKey"]["key"],
                     {"role": "worker", "name": "globex worker"})
        self.assertEqual(st, 201, k)
        g = Worker(SERVER, key=k["key"], org=t["id"], name="globex-worker",
                   channel=self.w.chan)
        q = fresh_queue()
        theirs = g.submit(queue=q)
        for name, call in self.task_id_calls(theirs.task_execution_id):
            self.assertCode(rpc_error(call), SC.NOT_FOUND, "%s on another tenant's task" % name)
        # Nor does a poll of the same queue name in our tenant see it.
        self.assertIsNone(self.w.poll(q, timeout_seconds=0))
        got = g.poll(q, timeout_seconds=0)
        self.assertEqual(got.task_execution_id, theirs.task_execution_id)
        g.complete(got.task_execution_id)
        say("another tenant's task: all 12 task methods -> NOT_FOUND; its queue is its own")

    def test_bad_submissions(self):
        q = fresh_queue()
        meta51 = {"k%02d" % i: "v" for i in range(51)}
        cases = [
            ("invalid JSON input", "input", dict(input=b"{not json")),
            ("input with a duplicate key", "input", dict(input=b'{"a":1,"a":2}')),
            ("metadata key _flovyn_x", "_flovyn_", dict(metadata={"_flovyn_x": "1"})),
            ("51 metadata keys", "metadata", dict(metadata=meta51)),
            ("max_retries 11", "retries", dict(max_retries=11)),
            ("max_retries -1", "retries", dict(max_retries=-1)),
            ("negative timeout_ms", "timeout", dict(timeout_ms=-5)),
            ("empty kind", "kind", dict(kind="")),
            ("queue of 101 bytes", "queue", dict(queue="q" * 101)),
            ("idempotency TTL over 30 days", "ttl",
             dict(idempotency_key="k-" + uuid.uuid4().hex,
                  idempotency_key_ttl_seconds=31 * 86400)),
            ("idempotency TTL 0", "ttl",
             dict(idempotency_key="k-" + uuid.uuid4().hex, idempotency_key_ttl_seconds=0)),
            ("idempotency key of 256 bytes", "idempotencykey", dict(idempotency_key="k" * 256)),
            ("timeout_ms over a year", "timeout", dict(timeout_ms=366 * 86400 * 1000)),
            ("kind of 256 bytes", "kind", dict(kind="k" * 256)),
            # protobuf-c hands strings over cut at a NUL: refused, not cut.
            ("kind with a NUL byte", "kind", dict(kind="e2e-t\x00x")),
            ("queue with a NUL byte", "queue", dict(queue=q + "\x00x")),
            ("metadata value with a NUL byte", "metadata.value",
             dict(metadata={"k": "a\x00b"})),
            ("metadata key with a NUL byte", "metadata.key", dict(metadata={"k\x00x": "v"})),
            ("workflow_execution_id not a UUID", "workflow_execution_id",
             dict(workflow_execution_id="nope")),
        ]
        for what, field, fields in cases:
            req = pb2.SubmitTaskRequest(org_id=SERVER.tenant_id, kind=fields.pop("kind", "e2e-t"),
                                        queue=fields.pop("queue", q), **fields)
            err = rpc_error(self.w.tasks.SubmitTask, req, metadata=self.w.md, timeout=10)
            self.assertCode(err, SC.INVALID_ARGUMENT, what)
            self.assertIn(field, err.details().lower(), "%s: %s" % (what, err.details()))
            print("    %s -> INVALID_ARGUMENT: %s" % (what, err.details()), flush=True)
        self.assertIsNone(self.w.poll(q, timeout_seconds=0), "a refused submit left a task")
        # 50 keys are fine.
        ok = self.w.submit(queue=q, metadata={"k%02d" % i: "v" for i in range(50)})
        self.w.cancel(ok.task_execution_id)
        say("%d bad submissions -> INVALID_ARGUMENT naming the field; 50 metadata keys accepted"
            % len(cases))

    def test_bad_worker_calls(self):
        q = fresh_queue()
        self.w.submit(queue=q)
        t = self.claim(q)
        tid, s, md = t.task_execution_id, self.w.tasks, self.w.md
        def stream(payload, type=pb2.TOKEN):
            return lambda: s.StreamTaskData(pb2.StreamTaskDataRequest(
                task_execution_id=tid, type=type, payload=payload), metadata=md, timeout=10)

        def log(level="INFO", message="m"):
            return lambda: s.LogMessage(pb2.LogMessageRequest(
                task_execution_id=tid, level=level, message=message), metadata=md, timeout=10)

        def progress(value, details=""):
            return lambda: s.ReportProgress(pb2.ReportProgressRequest(
                task_execution_id=tid, progress=value, details=details), metadata=md, timeout=10)

        def set_state(key="k", value=b"1"):
            return lambda: s.SetState(pb2.SetStateRequest(
                task_execution_id=tid, key=key, value=value), metadata=md, timeout=10)

        def get_state(key):
            return lambda: s.GetState(pb2.GetStateRequest(task_execution_id=tid, key=key),
                                      metadata=md, timeout=10)

        token = '{"type":"token","text":"x"}'
        cases = [
            ("StreamEventType 0", "type", stream(token, type=0)),
            ("StreamEventType 9", "type", stream(token, type=9)),
            ("stream payload not JSON", "payload", stream("hello")),
            ("stream payload empty", "payload", stream("")),
            ("stream payload over 256 KiB", "payload",
             stream('"' + "x" * (256 * 1024) + '"')),
            ("stream payload with a NUL byte", "payload", stream('"a\x00b"')),
            ("log level TRACE", "level", log(level="TRACE")),
            ("log level in lower case", "level", log(level="info")),
            ("log message over 64 KiB", "message", log(message="m" * (64 * 1024 + 1))),
            ("log message with a NUL byte", "message", log(message="a\x00b")),
            ("progress 1.5", "progress", progress(1.5)),
            ("progress -0.1", "progress", progress(-0.1)),
            ("progress NaN", "progress", progress(float("nan"))),
            ("progress infinity", "progress", progress(float("inf"))),
            ("progress details over 4 KiB", "details", progress(0.5, details="d" * 4097)),
            ("state value not JSON", "value", set_state(value=b"{oops")),
            ("state value empty", "value", set_state(value=b"")),
            ("state value with invalid UTF-8", "value", set_state(value=b'"\xff"')),
            ("state key empty", "key", set_state(key="")),
            ("state key of 256 bytes", "key", set_state(key="k" * 256)),
            ("state key with a NUL byte", "key", set_state(key="k\x00x")),
            ("GetState key empty", "key", get_state("")),
            ("output not JSON", "output", lambda: s.CompleteTask(pb2.CompleteTaskRequest(
                task_execution_id=tid, output=b"[1,"), metadata=md, timeout=10)),
            ("PollTask worker_id empty", "worker_id",
             lambda: fp.poll_task(s, self.w.key, SERVER.tenant_id, "", q)),
            ("PollTask worker_id of 256 bytes", "worker_id",
             lambda: fp.poll_task(s, self.w.key, SERVER.tenant_id, "w" * 256, q)),
            ("PollTask queue of 101 bytes", "queue",
             lambda: fp.poll_task(s, self.w.key, SERVER.tenant_id, "w", "q" * 101)),
        ]
        for what, field, call in cases:
            err = rpc_error(call)
            self.assertCode(err, SC.INVALID_ARGUMENT, what)
            self.assertIn(field, err.details(), "%s: %s" % (what, err.details()))
        # None of that touched the task: it is still RUNNING.
        self.w.heartbeat(tid)
        self.w.complete(tid)
        say("%d bad worker calls -> INVALID_ARGUMENT, the task still RUNNING" % len(cases))

    def test_keys_and_roles(self):
        q = fresh_queue()
        sub = self.w.submit(queue=q)
        op = fp.bearer(SERVER.operator_key)
        s = self.w.tasks
        denied = [
            rpc_error(s.SubmitTask, pb2.SubmitTaskRequest(org_id=SERVER.tenant_id, kind="x"),
                      metadata=op, timeout=10),
            rpc_error(s.PollTask, pb2.PollTaskRequest(org_id=SERVER.tenant_id, worker_id="w",
                                                      queue=q), metadata=op, timeout=10),
            rpc_error(s.CancelTask, pb2.CancelTaskRequest(
                task_execution_id=sub.task_execution_id), metadata=op, timeout=10),
        ]
        for err in denied:
            self.assertCode(err, SC.PERMISSION_DENIED, "operator key")
        err = rpc_error(s.PollTask, pb2.PollTaskRequest(org_id=SERVER.tenant_id, worker_id="w",
                                                        queue=q), metadata=(), timeout=10)
        self.assertCode(err, SC.UNAUTHENTICATED, "no key")
        # The admin key of the tenant may do what a worker does.
        adm = Worker(SERVER, key=SERVER.admin_key, channel=self.w.chan)
        t = adm.poll(q, timeout_seconds=0)
        self.assertEqual(t.task_execution_id, sub.task_execution_id)
        adm.complete(t.task_execution_id)
        say("operator key -> PERMISSION_DENIED, no key -> UNAUTHENTICATED, admin key polls and "
            "completes")


# ---------------------------------------------------------------------------
# Servers of their own
# ---------------------------------------------------------------------------

KILLED_WORKER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import flovyn_proto as fp
pb2, pb2_grpc = fp.load()
target, key, org, queue = sys.argv[2:6]
chan = fp.channel(target)
life = pb2_grpc.WorkerLifecycleStub(chan)
tasks = pb2_grpc.TaskExecutionStub(chan)
wid = fp.register_worker(life, key, org, name="doomed-worker", tasks=["e2e-task"]).worker_id
t = None
while t is None:
    t = fp.poll_task(tasks, key, org, wid, queue, timeout_seconds=10)
print("claimed %s %d" % (t.task_execution_id, t.execution_count), flush=True)
import time
time.sleep(3600)  # "running" the task until killed
"""


class ReclaimTest(unittest.TestCase):
    """A worker process killed mid-task: its task is reclaimed once the worker
    reads OFFLINE and another worker completes it as attempt 2."""

    def test_killed_worker_task_is_reclaimed(self):
        server = fp.test_server(SERVER_BINARY, extra_args=[
            "--degraded-after", "1s", "--offline-after", "2s",
            "--stale-interval", "500ms", "--activate-interval", "500ms"])
        server.start()
        proc = None
        try:
            q = fresh_queue("reclaim")
            w = Worker(server, name="rescuer")
            sub = w.submit(queue=q, input={"job": "long"}, max_retries=3)
            proc = subprocess.Popen(
                [sys.executable, "-c", KILLED_WORKER, SCRIPTS, server.grpc_target,
                 server.worker_key, server.tenant_id, q],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = proc.stdout.readline().split()
            self.assertEqual(line[:2], ["claimed", sub.task_execution_id],
                             "doomed worker: %r %s" % (line, proc.stderr.read()
                                                       if proc.poll() is not None else ""))
            self.assertEqual(line[2], "1")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            t0 = time.monotonic()
            got = None
            while got is None and time.monotonic() - t0 < 60:
                got = w.poll(q, timeout_seconds=15, timeout=25)
            self.assertIsNotNone(got, "the task was not reclaimed within 60 s")
            waited = time.monotonic() - t0
            self.assertEqual(got.task_execution_id, sub.task_execution_id)
            self.assertEqual(got.execution_count, 2)
            self.assertEqual(json.loads(got.input), {"job": "long"})
            w.complete(got.task_execution_id, {"rescued": True})
            w.close()
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if proc is not None:
                proc.stdout.close()
                proc.stderr.close()
            rc = server.stop()
        check_clean_exit(self, server, rc, "reclaim server")
        say("worker SIGKILLed while RUNNING its task -> reclaimed when it went OFFLINE, "
            "polled and completed by another worker as attempt 2",
            "%.1f s from the kill to the second claim" % waited)


    def test_parked_poller_keeps_its_running_task(self):
        """A worker that never sends SendHeartbeat and waits in polls longer
        than the OFFLINE threshold is alive all the time it waits (decision
        6): the reclaim job (every 10 s) leaves its RUNNING task alone."""
        server = fp.test_server(SERVER_BINARY, extra_args=[
            "--degraded-after", "1s", "--offline-after", "2s",
            "--stale-interval", "500ms", "--activate-interval", "500ms"])
        server.start()
        try:
            q, idle = fresh_queue("held"), fresh_queue("idle")
            w = Worker(server, name="patient")
            sub = w.submit(queue=q, input={"job": "slow"})
            got = w.poll(q, timeout_seconds=5, timeout=10)
            self.assertIsNotNone(got)
            self.assertEqual(got.task_execution_id, sub.task_execution_id)
            # Two parked polls of 7 s on an empty queue: 14 s without any
            # other call, seven OFFLINE thresholds and at least one run of
            # the reclaim job.
            t0 = time.monotonic()
            for _ in range(2):
                self.assertIsNone(w.poll(idle, timeout_seconds=7, timeout=20))
            waited = time.monotonic() - t0
            w.heartbeat(got.task_execution_id)  # still RUNNING for this worker
            w.complete(got.task_execution_id, {"done": True})
            w.close()
        finally:
            rc = server.stop()
        check_clean_exit(self, server, rc, "parked poller server")
        say("a worker that only polls, parked %.0f s with --offline-after 2s, keeps its "
            "RUNNING task (Heartbeat and CompleteTask OK)" % waited)


class TwoServersTest(unittest.TestCase):
    """A second server on the shared server's database: a submit through one
    wakes a poll parked on the other (the bus's LISTEN/NOTIFY), both ways.
    Part of the suite on PostgreSQL only (see the end of the file): two
    memory servers share nothing."""

    def test_submit_on_one_wakes_a_poll_parked_on_the_other(self):
        other = fp.DevServer(SERVER_BINARY, database_url=SERVER.database_url)
        other.start()
        latencies = []
        try:
            a, b = Worker(SERVER, name="replica-a"), Worker(other, name="replica-b")
            self.assertEqual(a.org, b.org)
            for submitter, poller in ((a, b), (b, a), (a, b), (b, a)):
                q = fresh_queue("x")
                box = {}
                th = threading.Thread(
                    target=lambda p=poller, q=q: box.update(
                        t=p.poll(q, timeout_seconds=20, timeout=30), at=time.monotonic()))
                th.start()
                time.sleep(0.3)  # let it park
                t0 = time.monotonic()
                sub = submitter.submit(queue=q)
                th.join(35)
                self.assertIsNotNone(box.get("t"), "the parked poll on the other server got "
                                     "nothing")
                self.assertEqual(box["t"].task_execution_id, sub.task_execution_id)
                latencies.append((box["at"] - t0) * 1000)
                submitter.complete(sub.task_execution_id)  # completed through the submitter's
            a.close()
            b.close()
        finally:
            rc = other.stop()
        check_clean_exit(self, other, rc, "second server")
        say("two servers on one database: a submit through either wakes the poll parked on the "
            "other, and the task completes through the first",
            "wake-up %s ms" % ", ".join("%.1f" % x for x in latencies))


if fp.e2e_bundle() != "postgres":
    del TwoServersTest


class ShutdownTest(unittest.TestCase):
    """SIGTERM with 50 parked polls: each is answered OK without a task, and
    the server exits 0."""

    def test_sigterm_with_50_parked_polls(self):
        server = fp.test_server(SERVER_BINARY)
        server.start()
        try:
            chans = [fp.channel(server.grpc_target) for _ in range(5)]
            stubs = [pb2_grpc.TaskExecutionStub(c) for c in chans]
            q = fresh_queue("stop")
            req = pb2.PollTaskRequest(org_id=server.tenant_id, worker_id="parked", queue=q,
                                      timeout_seconds=60)
            futures = [stubs[i % 5].PollTask.future(req, metadata=fp.bearer(server.worker_key),
                                                    timeout=45) for i in range(50)]
            time.sleep(1.0)  # let them park
            self.assertFalse(any(f.done() for f in futures), "a poll returned before SIGTERM")
            t0 = time.monotonic()
            rc = server.stop(timeout=20)
            answers = []
            for f in futures:
                try:
                    r = f.result(timeout=30)
                    answers.append("task" if r.HasField("task") else "empty")
                except grpc.RpcError as e:
                    answers.append(e.code().name)
            elapsed = time.monotonic() - t0
            for c in chans:
                c.close()
        finally:
            server.stop()
        self.assertEqual(answers, ["empty"] * 50, answers)
        check_clean_exit(self, server, rc, "server with 50 parked polls")
        say("SIGTERM with 50 parked polls -> 50 OK answers without a task, exit 0",
            "%.2f s" % elapsed)

    def test_poll_timeout_max_caps_the_wait(self):
        server = fp.test_server(SERVER_BINARY, extra_args=["--poll-timeout-max", "1"])
        server.start()
        try:
            w = Worker(server)
            t0 = time.monotonic()
            t = w.poll(fresh_queue(), timeout_seconds=60, timeout=30)
            waited = time.monotonic() - t0
            self.assertIsNone(t)
            w.close()
        finally:
            rc = server.stop()
        check_clean_exit(self, server, rc, "server with --poll-timeout-max 1")
        say("--poll-timeout-max 1: a poll asking 60 s is answered OK without a task",
            "after %.2f s" % waited)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: %s PATH/TO/flovyn-server" % sys.argv[0])
    SERVER_BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
