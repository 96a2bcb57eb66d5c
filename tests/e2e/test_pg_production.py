#!/usr/bin/python3
"""flovyn-server in production on PostgreSQL, end to end (issue 5, item 5).

Real `flovyn-server` processes on real databases; workers over gRPC with
Debian's python3-grpcio, reads and admin over REST (urllib), the database
checked with psql where the server cannot tell.

- Restart: workers, their capabilities, an operator's configuration, heartbeat
  history, a tenant and keys created over REST, a revoked key: all still
  there, all still working (or still revoked), after the server is stopped and
  a new one starts on the same database; the same process registering again
  keeps its id.
- Two servers on one database: what is registered through one is discovered
  through the other; configuration set on one is read on the other; both run
  the scheduler jobs (short thresholds), and a silent worker's status history
  records each transition exactly once, through going OFFLINE, coming back and
  going OFFLINE again, while both jobs keep running.
- 8 concurrent registrations of the same kinds (22 kinds each, first seen in
  that round): through one server, then split over two servers; every one
  succeeds, every link is there, no definition is duplicated.
- PostgreSQL stopped and started under load (a cluster of this test's own,
  never the shared fixture's): registrations and heartbeats keep coming;
  while the database is down the server answers UNAVAILABLE (gRPC) and 503
  (REST, health included) and nothing else; it recovers by itself once the
  database is back; every registration acknowledged with success=true,
  before, during or after, is there afterwards.
- `flovyn-server migrate` twice (the second changes nothing), `tenant create`
  and `key create` against the database, then a server started with
  --no-migrate accepts the created key over gRPC and refuses it once `key
  revoke` ran; three `migrate` and two `serve` started together on an empty
  database all succeed, each migration recorded once. (test_app_postgres.py
  covers the commands' output, options and errors.)

Every server is stopped with SIGTERM and must exit 0 without a sanitizer
report.

Usage: /usr/bin/python3 tests/e2e/test_pg_production.py PATH/TO/flovyn-server OWN_CLUSTER_DIR
(FLOVYN_TEST_PG_URL_FILE names the fixture cluster's URL file; OWN_CLUSTER_DIR
is where this test starts and stops its own cluster with
scripts/pg-test-cluster.sh, removed at the end.)
"""
import collections
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import flovyn_proto as fp  # noqa: E402
from test_rest_discovery import http, wait_for  # noqa: E402

import grpc  # noqa: E402

pb2, pb2_grpc = fp.load()
SC = grpc.StatusCode

SERVER_BINARY = None   # argv[1]
OWN_CLUSTER_DIR = None  # argv[2]

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

# Short liveness thresholds and job intervals for the scheduler checks.
FAST_JOBS = ["--degraded-after", "1s", "--offline-after", "2s", "--activate-interval", "200ms",
             "--stale-interval", "200ms", "--availability-interval", "200ms"]


def say(what, detail=""):
    print("  ok: %s%s" % (what, "  (%s)" % detail if detail else ""), flush=True)


def stop_clean(test, srv, what):
    """Stops srv (SIGTERM) and fails the test unless it exited 0 without a
    sanitizer report."""
    rc = srv.stop(timeout=20)
    log = srv.stderr_text()
    test.assertEqual(rc, 0, "%s: exit code %s (None: killed after 20 s)\n%s"
                     % (what, rc, log[-4000:]))
    test.assertEqual([m for m in SANITIZER_MARKERS if m in log], [], log[-4000:])


def rpc_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return e.code()
    return SC.OK


def stub_of(srv):
    ch = fp.channel(srv.grpc_target)
    return ch, pb2_grpc.WorkerLifecycleStub(ch)


def metric(srv, name, labels):
    """The value of one sample of the server's /_/metrics (0 when absent)."""
    st, _, text = http(srv, "GET", "/_/metrics")
    if st != 200:
        raise AssertionError("/_/metrics: %s %r" % (st, text))
    want = "%s{%s} " % (name, labels)
    for line in text.splitlines():
        if line.startswith(want):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def stale_runs(srv):
    return metric(srv, "flovyn_scheduler_job_runs_total", 'job="stale",result="ok"')


def all_worker_ids(srv, slug, key):
    """Every worker id of a tenant, page by page over REST."""
    ids, offset = [], 0
    while True:
        st, hdrs, page = http(srv, "GET", "/api/tenants/%s/workers?limit=100&offset=%d"
                              % (slug, offset), key)
        if st != 200:
            raise AssertionError("list workers: %s %r" % (st, page))
        ids += [w["id"] for w in page]
        offset += len(page)
        if not page or offset >= int(hdrs["X-Total-Count"]):
            return ids


def history(srv, slug, key, wid):
    """The recorded status changes of a worker, oldest first."""
    st, _, body = http(srv, "GET", "/api/tenants/%s/workers/%s/status-history?limit=100"
                       % (slug, wid), key)
    if st != 200:
        raise AssertionError("status-history: %s %r" % (st, body))
    return list(reversed(body))


# ---------------------------------------------------------------------------
# Data survives a restart
# ---------------------------------------------------------------------------

class Restart(unittest.TestCase):

    def test_everything_survives_a_restart(self):
        db = fp.PgDatabase()
        a = b = None
        try:
            a = fp.DevServer(SERVER_BINARY, database_url=db.url).start()
            slug, op = a.tenant, a.operator_key
            P = "/api/tenants/" + slug
            ch, stub = stub_of(a)
            keeper = fp.register_worker(
                stub, a.worker_key, a.tenant_id, name="keeper", host="keep-host", pid=11,
                workflows=[fp.workflow("wf-keep", version="1.2.0", name="Keep flow")],
                tasks=[fp.task("t-keep-a", timeout_seconds=30), fp.task("t-keep-b")]).worker_id
            fp.heartbeat(stub, a.worker_key, keeper, health_info=b'{"n":1}')
            fp.heartbeat(stub, a.worker_key, keeper, health_info=b'{"n":2}')
            ch.close()
            st, _, conf = http(a, "PATCH", P + "/task-definitions/t-keep-a/configuration", op,
                               body={"timeoutSeconds": 77, "tags": ["kept"],
                                     "retryPolicy": {"maxRetries": 4}})
            self.assertEqual(st, 200, conf)
            # A tenant and keys through the admin routes; one key revoked.
            st, _, acme = http(a, "POST", "/api/tenants", a.admin_key,
                               body={"slug": "acme", "name": "Acme"})
            self.assertEqual(st, 201, acme)
            acme_admin = acme["adminKey"]["key"]
            st, _, acme_wk = http(a, "POST", "/api/tenants/acme/api-keys", acme_admin,
                                  body={"role": "worker", "name": "acme worker"})
            self.assertEqual(st, 201, acme_wk)
            st, _, doomed = http(a, "POST", "/api/tenants/acme/api-keys", acme_admin,
                                 body={"role": "operator", "name": "doomed"})
            self.assertEqual(st, 201, doomed)
            st, _, _ = http(a, "DELETE", "/api/tenants/acme/api-keys/" + doomed["id"], acme_admin)
            self.assertIn(st, (200, 204))
            self.assertEqual(http(a, "GET", "/api/tenants/acme/workers", doomed["key"])[0], 401)
            ch, stub = stub_of(a)
            acme_worker = fp.register_worker(stub, acme_wk["key"], acme["id"], name="acme-w",
                                             host="acme-host", pid=12,
                                             tasks=["t-acme"]).worker_id
            ch.close()

            reads = [P + "/workers?limit=100", P + "/workers/" + keeper,
                     P + "/workers/%s/heartbeats?limit=10" % keeper,
                     P + "/workers/%s/status-history" % keeper,
                     P + "/workflow-definitions?limit=100", P + "/workflow-definitions/wf-keep",
                     P + "/task-definitions?limit=100", P + "/task-definitions/t-keep-a"]
            before = {p: http(a, "GET", p, op) for p in reads}
            acme_reads = ["/api/tenants/acme", "/api/tenants/acme/api-keys",
                          "/api/tenants/acme/workers/" + acme_worker]
            acme_before = {p: http(a, "GET", p, acme_admin) for p in acme_reads}
            for p, (st, _, body) in list(before.items()) + list(acme_before.items()):
                self.assertEqual(st, 200, "%s: %r" % (p, body))
            stop_clean(self, a, "first server")

            # A new server on the same database, without --dev: nothing is
            # created for it, everything comes from the database.
            b = fp.DevServer(SERVER_BINARY, database_url=db.url, dev=False).start()
            for p in reads:
                st, _, body = http(b, "GET", p, op)
                self.assertEqual(st, 200, "%s after restart: %r" % (p, body))
                self.assertEqual(body, before[p][2], "%s differs after the restart" % p)
            for p in acme_reads:
                st, _, body = http(b, "GET", p, acme_admin)
                self.assertEqual((st, body), (200, acme_before[p][2]), p)
            say("after a restart on the same database: %d REST reads of the default tenant and "
                "%d of a REST-created tenant answer exactly as before" % (len(reads),
                                                                          len(acme_reads)))
            d = before[P + "/task-definitions/t-keep-a"][2]
            self.assertEqual((d["timeoutSeconds"], d["tags"], d["retryPolicy"]["maxRetries"]),
                             (77, ["kept"], 4))
            hb = before[P + "/workers/%s/heartbeats?limit=10" % keeper][2]
            self.assertEqual([h["healthInfo"] for h in hb[:2]], [{"n": 2}, {"n": 1}])
            say("the operator's configuration and the heartbeat history are among them")

            # The old keys still work; the revoked one stays revoked.
            ch, stub = stub_of(b)
            self.assertEqual(rpc_code(fp.heartbeat, stub, a.worker_key, keeper), SC.OK)
            again = fp.register_worker(
                stub, a.worker_key, a.tenant_id, name="keeper", host="keep-host", pid=11,
                workflows=[fp.workflow("wf-keep", version="1.2.0", name="Keep flow")],
                tasks=[fp.task("t-keep-a", timeout_seconds=30), fp.task("t-keep-b")])
            self.assertEqual((again.success, again.worker_id), (True, keeper))
            r = fp.register_worker(stub, acme_wk["key"], acme["id"], name="acme-w2",
                                   host="acme-host", pid=13, tasks=["t-acme"])
            self.assertTrue(r.success)
            ch.close()
            st, _, lst = http(b, "GET", "/api/tenants/acme/workers", acme_admin)
            self.assertEqual((st, sorted(w["id"] for w in lst)),
                             (200, sorted([acme_worker, r.worker_id])))
            self.assertEqual(http(b, "GET", "/api/tenants/acme/workers", doomed["key"])[0], 401)
            st, _, t2 = http(b, "POST", "/api/tenants", a.admin_key,
                             body={"slug": "acme", "name": "Acme again"})
            self.assertEqual(st, 409, t2)
            d = http(b, "GET", P + "/task-definitions/t-keep-a", op)[2]
            self.assertEqual((d["timeoutSeconds"], d["tags"]), (77, ["kept"]))
            say("old worker, admin and operator keys work on the new server (gRPC and REST), "
                "the revoked key is still 401, the same process registering again keeps its id, "
                "the configuration still wins over its declared timeout, the slug is still taken")
            stop_clean(self, b, "second server")
        finally:
            for s in (a, b):
                if s is not None:
                    s.stop()
            db.drop()


    def test_tasks_survive_a_restart(self):
        """PENDING and RUNNING tasks, their progress, state, logs and an
        idempotency key, across a SIGTERM and a new server on the database:
        the RUNNING task is completed by its worker on the new server, the
        PENDING ones are claimed in order, nothing is lost or duplicated."""
        db = fp.PgDatabase()
        a = b = None
        try:
            a = fp.DevServer(SERVER_BINARY, database_url=db.url).start()
            key, org, P = a.worker_key, a.tenant_id, "/api/tenants/" + a.tenant
            ch, life = stub_of(a)
            tasks = pb2_grpc.TaskExecutionStub(ch)
            md = fp.bearer(key)
            worker = fp.register_worker(life, key, org, name="survivor", host="h", pid=21,
                                        tasks=["t-run"]).worker_id
            q = "restart-" + uuid.uuid4().hex[:8]
            subs = [fp.submit_task(tasks, key, org, "t-run", {"n": i}, q,
                                   **({"idempotency_key": "once"} if i == 0 else {}))
                    for i in range(4)]
            ids = [r.task_execution_id for r in subs]
            running = fp.poll_task(tasks, key, org, worker, q)
            self.assertEqual(running.task_execution_id, ids[0])
            tid = running.task_execution_id
            tasks.ReportProgress(pb2.ReportProgressRequest(task_execution_id=tid, progress=0.5,
                                                           details="half"), metadata=md,
                                 timeout=10)
            tasks.SetState(pb2.SetStateRequest(task_execution_id=tid, key="cursor",
                                               value=b'{"page":7}'), metadata=md, timeout=10)
            tasks.LogMessage(pb2.LogMessageRequest(task_execution_id=tid, level="INFO",
                                                   message="before the restart"),
                             metadata=md, timeout=10)
            ch.close()
            st, _, d = http(a, "GET", P + "/task-definitions/t-run", a.operator_key)
            self.assertEqual((st, d["pendingTasks"]), (200, 3), d)
            stop_clean(self, a, "first server")

            b = fp.DevServer(SERVER_BINARY, database_url=db.url, dev=False).start()
            ch = fp.channel(b.grpc_target)
            tasks = pb2_grpc.TaskExecutionStub(ch)
            st, _, d = http(b, "GET", P + "/task-definitions/t-run", a.operator_key)
            self.assertEqual((st, d["pendingTasks"]), (200, 3), d)
            again = fp.submit_task(tasks, key, org, "t-run", {"n": 0}, q, idempotency_key="once")
            self.assertEqual((again.task_execution_id, again.idempotency_key_used,
                              again.idempotency_key_new), (ids[0], True, False))
            got = tasks.GetState(pb2.GetStateRequest(task_execution_id=tid, key="cursor"),
                                 metadata=md, timeout=10)
            self.assertEqual((got.found, json.loads(got.value)), (True, {"page": 7}))
            tasks.Heartbeat(pb2.HeartbeatRequest(task_execution_id=tid), metadata=md, timeout=10)
            tasks.CompleteTask(pb2.CompleteTaskRequest(task_execution_id=tid, output=b'{"ok":1}'),
                               metadata=md, timeout=10)
            order = []
            while True:
                t = fp.poll_task(tasks, key, org, worker, q)
                if t is None:
                    break
                order.append((t.task_execution_id, t.execution_count, json.loads(t.input)))
                tasks.CompleteTask(pb2.CompleteTaskRequest(task_execution_id=t.task_execution_id),
                                   metadata=md, timeout=10)
            self.assertEqual(order, [(ids[i], 1, {"n": i}) for i in (1, 2, 3)])
            self.assertEqual(rpc_code(tasks.CompleteTask, pb2.CompleteTaskRequest(
                task_execution_id=tid), metadata=md, timeout=10), SC.FAILED_PRECONDITION)
            st, _, d = http(b, "GET", P + "/task-definitions/t-run", a.operator_key)
            self.assertEqual((st, d["pendingTasks"], d["oldestPendingAt"]), (200, 0, None), d)
            ch.close()
            say("tasks across a restart: the RUNNING one (progress, state, log) completed by its "
                "worker on the new server, the 3 PENDING ones claimed in order as attempt 1, the "
                "idempotency key still bound, the backlog 3 then 0")
            stop_clean(self, b, "second server")
        finally:
            for s in (a, b):
                if s is not None:
                    s.stop()
            db.drop()


# ---------------------------------------------------------------------------
# Two servers on one database
# ---------------------------------------------------------------------------

def check_chain(test, hist, what):
    """Status changes form one chain: each starts where the previous ended and
    changes something; no change is recorded twice in a row."""
    for prev, cur in zip(hist, hist[1:]):
        test.assertEqual(cur["from"], prev["to"], "%s: broken chain %r" % (what, hist))
    for h in hist:
        test.assertNotEqual(h["from"], h["to"], "%s: a change to the same status %r"
                            % (what, hist))


def chain(hist):
    return ", ".join("%s->%s" % (h["from"], h["to"]) for h in hist)


class TwoServers(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = fp.PgDatabase()
        cls.a = cls.b = None
        try:
            cls.a = fp.DevServer(SERVER_BINARY, database_url=cls.db.url,
                                 extra_args=FAST_JOBS).start()
            cls.b = fp.DevServer(SERVER_BINARY, database_url=cls.db.url, dev=False,
                                 extra_args=FAST_JOBS).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.P = "/api/tenants/" + cls.a.tenant

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b):
            if s is not None:
                s.stop()
        cls.db.drop()

    def test_zz_both_stop_cleanly(self):
        stop_clean(self, self.b, "server B")
        stop_clean(self, self.a, "server A")
        say("both servers stop with exit 0")

    def test_register_through_one_discover_through_the_other(self):
        a, b, op = self.a, self.b, self.a.operator_key
        ch, stub = stub_of(a)
        wid = fp.register_worker(stub, a.worker_key, a.tenant_id, name="via-a", host="h", pid=21,
                                 workflows=["wf-shared"], tasks=["t-shared-1", "t-shared-2"]
                                 ).worker_id
        st, _, d = http(b, "GET", self.P + "/workers/" + wid, op)
        self.assertEqual(st, 200, d)
        self.assertEqual(([c["kind"] for c in d["workflowCapabilities"]],
                          sorted(c["kind"] for c in d["taskCapabilities"])),
                         (["wf-shared"], ["t-shared-1", "t-shared-2"]))
        self.assertIn(wid, all_worker_ids(b, a.tenant, op))
        st, _, td = http(b, "GET", self.P + "/task-definitions/t-shared-1", op)
        self.assertEqual((st, td["workerCount"]), (200, 1))
        say("registered through A, listed with its capabilities through B")
        # Configuration set through B is what A answers.
        st, _, _ = http(b, "PATCH", self.P + "/task-definitions/t-shared-2/configuration", op,
                        body={"tags": ["from-b"]})
        self.assertEqual(st, 200)
        self.assertEqual(http(a, "GET", self.P + "/task-definitions/t-shared-2", op)[2]["tags"],
                         ["from-b"])
        # A heartbeat through B reaches A's reads (B writes its buffer within
        # a flush interval).
        chb, stubb = stub_of(b)
        fp.heartbeat(stubb, a.worker_key, wid, health_info=b'{"via":"b"}')
        wait_for("B's heartbeat visible through A", lambda: [
            h["healthInfo"] for h in http(a, "GET", self.P + "/workers/%s/heartbeats" % wid,
                                          op)[2]][:1] == [{"via": "b"}], timeout=20)
        ch.close()
        chb.close()
        say("configuration set through B read through A; a heartbeat sent to B listed by A")

    def test_jobs_on_both_servers_record_each_transition_once(self):
        a, b, op = self.a, self.b, self.a.operator_key
        ch, stub = stub_of(a)
        quiet = fp.register_worker(stub, a.worker_key, a.tenant_id, name="quiet", host="h",
                                   pid=22, tasks=["t-quiet"]).worker_id
        hist_of = lambda: history(a, a.tenant, op, quiet)  # noqa: E731

        def settle():
            """Let both servers' stale job run at least 3 more times."""
            ra, rb = stale_runs(a), stale_runs(b)
            wait_for("3 more stale runs on each server",
                     lambda: stale_runs(a) >= ra + 3 and stale_runs(b) >= rb + 3, timeout=60)

        wait_for("OFFLINE recorded", lambda: any(h["to"] == "OFFLINE" for h in hist_of()),
                 timeout=60)
        settle()
        h1 = hist_of()
        check_chain(self, h1, "first silence")
        self.assertEqual(h1[-1]["to"], "OFFLINE", h1)
        self.assertEqual(sum(h["to"] == "OFFLINE" for h in h1), 1, h1)
        self.assertLessEqual(sum(h["to"] == "DEGRADED" for h in h1), 1, h1)
        self.assertEqual(history(b, a.tenant, op, quiet), h1, "A and B disagree")
        say("a silent worker, both servers running the jobs every 200 ms: %s, each once"
            % chain(h1))

        # It comes back (heartbeats through B until the activation job has
        # recorded it), then goes silent again.
        chb, stubb = stub_of(b)

        def back():
            fp.heartbeat(stubb, a.worker_key, quiet)
            return len(hist_of()) > len(h1)

        wait_for("the return recorded", back, timeout=60)
        chb.close()
        wait_for("OFFLINE recorded twice",
                 lambda: sum(h["to"] == "OFFLINE" for h in hist_of()) >= 2, timeout=60)
        settle()
        h2 = hist_of()
        check_chain(self, h2, "back and silent again")
        self.assertEqual(h2[:len(h1)], h1, "the first changes were rewritten")
        rest = h2[len(h1):]
        self.assertEqual(rest[0]["to"], "ONLINE", h2)
        self.assertEqual(sum(h["to"] == "ONLINE" for h in rest), 1, h2)
        self.assertEqual(sum(h["to"] == "OFFLINE" for h in rest), 1, h2)
        self.assertLessEqual(sum(h["to"] == "DEGRADED" for h in rest), 1, h2)
        ch.close()
        # Both servers did run the jobs.
        for srv, name in ((a, "A"), (b, "B")):
            for job in ("activate", "stale", "availability"):
                runs = metric(srv, "flovyn_scheduler_job_runs_total",
                              'job="%s",result="ok"' % job)
                self.assertGreater(runs, 0, "server %s never ran %s" % (name, job))
        changes = sum(metric(s, "flovyn_scheduler_job_changes_total", 'job="%s"' % j)
                      for s in (a, b) for j in ("activate", "stale"))
        say("back to life through B, silent again: %s; no change recorded twice"
            % chain(h2),
            "activate+stale changes counted by A and B together: %d" % changes)


# ---------------------------------------------------------------------------
# 8 concurrent registrations of the same kinds
# ---------------------------------------------------------------------------

class ConcurrentRegistrations(unittest.TestCase):

    def race(self, servers, key, org, round_no):
        """8 threads, each on its own channel, released together, register 8
        processes declaring the same 22 kinds, new in this round."""
        n = 8
        kinds = dict(workflows=["wf-race%d-%d" % (round_no, i) for i in range(2)],
                     tasks=["t-race%d-%02d" % (round_no, i) for i in range(20)])
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            ch, stub = stub_of(servers[i % len(servers)])
            try:
                req = fp.registration(org, name="racer", host="race-host",
                                      pid=1000 * round_no + i, **kinds)
                barrier.wait(timeout=30)
                try:
                    r = stub.RegisterWorker(req, metadata=fp.bearer(key), timeout=60)
                    results[i] = r.worker_id if r.success else "success=false: %s" % r.error
                except grpc.RpcError as e:
                    results[i] = "%s: %s" % (e.code(), e.details())
            finally:
                ch.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return kinds, results

    def check_round(self, srv, op, slug, kinds, results):
        P = "/api/tenants/" + slug
        bad = [r for r in results if r is None or not fp_uuid(r)]
        self.assertEqual(bad, [], results)
        self.assertEqual(len(set(results)), 8, results)
        for wid in results:
            st, _, d = http(srv, "GET", P + "/workers/" + wid, op)
            self.assertEqual(st, 200, d)
            self.assertEqual(sorted(c["kind"] for c in d["workflowCapabilities"]),
                             kinds["workflows"])
            self.assertEqual(sorted(c["kind"] for c in d["taskCapabilities"]), kinds["tasks"])
        for cls, names in (("workflow", kinds["workflows"]), ("task", kinds["tasks"])):
            for kind in names:
                st, _, d = http(srv, "GET", P + "/%s-definitions/%s" % (cls, kind), op)
                self.assertEqual((st, d["workerCount"]), (200, 8), "%s %s" % (cls, kind))
                self.assertEqual(sorted(w["id"] for w in d["workers"]), sorted(results))

    def test_8_concurrent_registrations_of_the_same_kinds(self):
        db = fp.PgDatabase()
        a = b = None
        try:
            a = fp.DevServer(SERVER_BINARY, database_url=db.url).start()
            b = fp.DevServer(SERVER_BINARY, database_url=db.url, dev=False).start()
            for round_no in range(1, 4):
                kinds, results = self.race([a], a.worker_key, a.tenant_id, round_no)
                self.check_round(a, a.operator_key, a.tenant, kinds, results)
            say("3 rounds of 8 simultaneous registrations through one server, 22 new kinds "
                "each: all success, 8 ids, 22 links each, every definition lists the 8")
            for round_no in range(4, 7):
                kinds, results = self.race([a, b], a.worker_key, a.tenant_id, round_no)
                self.check_round(b, a.operator_key, a.tenant, kinds, results)
            say("3 rounds of the same split over two servers on one database: likewise")
            P = "/api/tenants/" + a.tenant
            for cls, per_round in (("workflow", 2), ("task", 20)):
                st, hdrs, _ = http(a, "GET", P + "/%s-definitions?limit=1" % cls, a.operator_key)
                self.assertEqual(int(hdrs["X-Total-Count"]), 6 * per_round, cls)
            rows = db.query("SELECT count(*) FROM worker")
            self.assertEqual(rows, [["48"]])
            say("no definition created twice (%d workflow, %d task definitions), 48 worker rows"
                % (12, 120))
            stop_clean(self, b, "server B")
            stop_clean(self, a, "server A")
        finally:
            for s in (a, b):
                if s is not None:
                    s.stop()
            db.drop()


def fp_uuid(text):
    try:
        return uuid.UUID(text) is not None
    except (ValueError, TypeError, AttributeError):
        return False


# ---------------------------------------------------------------------------
# PostgreSQL stopped and started under load
# ---------------------------------------------------------------------------

class Load:
    """Registration and heartbeat threads against one server. Every answer is
    recorded with the phases in which its call started and ended:

      before      PostgreSQL up, nothing done to it yet
      stopping    pg_ctl stop running
      down        PostgreSQL stopped
      starting    pg_ctl start running
      recovering  PostgreSQL up again, the server not yet seen serving
      after       the server seen serving again
    """

    def __init__(self, srv, workers):
        self.srv = srv
        self.workers = workers       # ids heartbeats go to
        self.phase = "before"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []              # (start phase, pid, worker id) of success=true
        self.codes = {"register": collections.Counter(), "heartbeat": collections.Counter()}
        self.next_pid = 50000
        self.threads = [threading.Thread(target=self.registrar, daemon=True) for _ in range(2)]
        self.threads += [threading.Thread(target=self.beater, args=(i,), daemon=True)
                         for i in range(2)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def count(self, phase):
        """Registrations acknowledged in calls started in that phase."""
        with self.lock:
            return sum(1 for p, _, _ in self.acked if p == phase)

    def answers(self, what, start, end=None):
        """{code: n} of the calls that started in `start` and ended in `end`
        (default: the same phase)."""
        end = end or start
        with self.lock:
            return {code: n for (s, e, code), n in self.codes[what].items()
                    if s == start and e == end}

    def record(self, what, start, code):
        with self.lock:
            self.codes[what][(start, self.phase, code)] += 1

    def registrar(self):
        ch, stub = stub_of(self.srv)
        while not self.stop.is_set():
            with self.lock:
                self.next_pid += 1
                pid = self.next_pid
            req = fp.registration(self.srv.tenant_id, name="loaded", host="load-host", pid=pid,
                                  tasks=["t-load-%d" % (pid % 5), "t-load-x"])
            start = self.phase
            try:
                r = stub.RegisterWorker(req, metadata=fp.bearer(self.srv.worker_key), timeout=30)
                code = "OK" if r.success else "success=false"
                if r.success:
                    with self.lock:
                        self.acked.append((start, pid, r.worker_id))
            except grpc.RpcError as e:
                code = e.code().name
            self.record("register", start, code)
            if code != "OK":
                self.stop.wait(0.05)
        ch.close()

    def beater(self, i):
        ch, stub = stub_of(self.srv)
        while not self.stop.is_set():
            start = self.phase
            code = rpc_code(fp.heartbeat, stub, self.srv.worker_key,
                            self.workers[i % len(self.workers)], timeout=30).name
            self.record("heartbeat", start, code)
            if code != "OK":
                self.stop.wait(0.05)
        ch.close()


class PostgresOutage(unittest.TestCase):

    def test_stop_and_start_postgres_under_load(self):
        cluster = fp.PgCluster(OWN_CLUSTER_DIR)
        srv = load = None
        try:
            cluster.create()
            db = fp.PgDatabase(cluster_url=cluster.url, prefix="fv_outage")
            srv = fp.DevServer(SERVER_BINARY, database_url=db.url).start()
            P, op = "/api/tenants/" + srv.tenant, srv.operator_key
            ch, stub = stub_of(srv)
            beating = [fp.register_worker(stub, srv.worker_key, srv.tenant_id, name="beating",
                                          pid=40 + i, tasks=["t-beat"]).worker_id
                       for i in range(2)]
            load = Load(srv, beating)
            load.start()
            wait_for("10 registrations acknowledged before the outage",
                     lambda: load.count("before") >= 10, timeout=60)

            load.phase = "stopping"
            cluster.stop_server()
            load.phase = "down"
            say("PostgreSQL stopped (pg_ctl stop -m fast) under load",
                "%d registrations acknowledged before" % load.count("before"))
            # While it is down: UNAVAILABLE over gRPC, 503 over REST.
            direct = collections.Counter()
            for i in range(3):
                direct["register " + rpc_code(
                    fp.register_worker, stub, srv.worker_key, srv.tenant_id, name="while-down",
                    pid=60 + i, tasks=["t-down"], timeout=30).name] += 1
                direct["heartbeat " + rpc_code(fp.heartbeat, stub, srv.worker_key, beating[0],
                                               timeout=30).name] += 1
                for path in (P + "/workers", P + "/workers/" + beating[0],
                             P + "/task-definitions", "/_/health"):
                    direct["GET %d" % http(srv, "GET", path, op)[0]] += 1
                direct["PATCH %d" % http(srv, "PATCH", P + "/task-definitions/t-beat/"
                                         "configuration", op, body={"tags": ["x"]})[0]] += 1
            self.assertEqual(dict(direct), {"register UNAVAILABLE": 3, "heartbeat UNAVAILABLE": 3,
                                            "GET 503": 12, "PATCH 503": 3})
            st, _, body = http(srv, "GET", "/_/health")
            self.assertEqual((st, body.get("status")), (503, "DOWN"), body)
            # The load keeps getting answers while the database is down.
            wait_for("the load answered while the database is down",
                     lambda: sum(load.answers("register", "down").values()) >= 5, timeout=60)
            say("while PostgreSQL is down: RegisterWorker and SendHeartbeat UNAVAILABLE, "
                "REST 503 (reads, PATCH, health DOWN)", "direct calls: %s" % dict(direct))
            self.assertEqual(srv.proc.poll(), None, "the server died:\n" + srv.stderr_text())

            load.phase = "starting"
            cluster.start_server()
            load.phase = "recovering"
            t0 = time.monotonic()

            def recovered():
                return (rpc_code(fp.register_worker, stub, srv.worker_key, srv.tenant_id,
                                 name="after", pid=70, tasks=["t-after"]) == SC.OK and
                        http(srv, "GET", P + "/workers", op)[0] == 200 and
                        http(srv, "GET", "/_/health")[0] == 200)

            wait_for("the server recovers by itself", recovered, timeout=60)
            load.phase = "after"
            say("PostgreSQL started again: the server serves again by itself",
                "seen serving %.1f s after pg_ctl start returned" % (time.monotonic() - t0))
            wait_for("10 registrations acknowledged after the outage",
                     lambda: load.count("after") >= 10, timeout=60)
            self.assertEqual(rpc_code(fp.heartbeat, stub, srv.worker_key, beating[1]), SC.OK)
            load.finish()
            ch.close()

            # Nothing acknowledged is lost.
            listed = set(all_worker_ids(srv, srv.tenant, op))
            missing = [x for x in load.acked if x[2] not in listed]
            self.assertEqual(missing, [], "acknowledged registrations lost")
            for phase, pid, wid in load.acked[::5]:
                st, _, d = http(srv, "GET", P + "/workers/" + wid, op)
                self.assertEqual((st, d["worker"]["processId"],
                                  sorted(c["kind"] for c in d["taskCapabilities"])),
                                 (200, str(pid), sorted(["t-load-%d" % (pid % 5), "t-load-x"])))
            # The load got only the answers its phases allow: OK while the
            # database is up, UNAVAILABLE while it is down, one or the other
            # for calls that straddle a change.
            for what in ("register", "heartbeat"):
                self.assertEqual(set(load.answers(what, "before")), {"OK"}, load.codes[what])
                self.assertEqual(set(load.answers(what, "down")), {"UNAVAILABLE"},
                                 load.codes[what])
                self.assertEqual(set(load.answers(what, "after")), {"OK"}, load.codes[what])
                self.assertTrue({c for (_, _, c) in load.codes[what]} <= {"OK", "UNAVAILABLE"},
                                load.codes[what])
            during = sum(load.count(p) for p in ("stopping", "down", "starting", "recovering"))
            say("all %d acknowledged registrations are there afterwards with their links "
                "(%d acknowledged before, %d around and during the outage, %d after)"
                % (len(load.acked), load.count("before"), during, load.count("after")))
            say("the load's answers: OK while the database was up, UNAVAILABLE while it was "
                "down, nothing else", "registrations %s; heartbeats %s"
                % (summary(load.codes["register"]), summary(load.codes["heartbeat"])))
            stop_clean(self, srv, "server")
            srv = None
            db.drop()
        finally:
            if load is not None:
                load.finish()
            if srv is not None:
                srv.stop()
            cluster.remove()


def summary(codes):
    """{(start, end, code): n} as short text: 'before OK 21, before/stopping UNAVAILABLE 4'."""
    return ", ".join("%s %s %d" % (s if s == e else s + "/" + e, c, n)
                     for (s, e, c), n in sorted(codes.items()))


# ---------------------------------------------------------------------------
# The subcommands: migrate, tenant create, key create|list|revoke
# ---------------------------------------------------------------------------

def server_cmd(*args, timeout=60):
    res = subprocess.run([SERVER_BINARY] + list(args), capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    for m in SANITIZER_MARKERS:
        if m in res.stderr:
            raise AssertionError("sanitizer report from flovyn-server %s:\n%s"
                                 % (" ".join(args[:2]), res.stderr))
    return res


class Subcommands(unittest.TestCase):

    def test_migrate_twice_then_tenant_and_key_subcommands(self):
        db = fp.PgDatabase()
        srv = None
        try:
            url = db.url
            r1 = server_cmd("migrate", "--database-url", url)
            self.assertEqual(r1.returncode, 0, r1.stderr)
            table = ("SELECT version, name, checksum, applied_at FROM schema_migrations "
                     "ORDER BY version")
            applied = db.query(table)
            self.assertGreater(len(applied), 0)
            r2 = server_cmd("migrate", "--database-url", url)
            self.assertEqual(r2.returncode, 0, r2.stderr)
            self.assertEqual(db.query(table), applied)
            say("migrate twice: exit 0 both times, %d migrations applied once (the rows, "
                "applied_at included, unchanged)" % len(applied), r2.stdout.strip())

            r = server_cmd("tenant", "create", "cli-co", "--database-url", url, "--name", "CLI Co")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            tenant_id = UUID_RE.search(r.stdout)
            self.assertIsNotNone(tenant_id, r.stdout)
            tenant_id = tenant_id.group(0)
            self.assertIn([tenant_id, "cli-co"], db.query("SELECT id, slug FROM tenant"))
            admin = re.search(r"flovyn_sk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", r.stdout)
            self.assertIsNotNone(admin, r.stdout)
            admin = admin.group(0)
            r = server_cmd("key", "create", "--database-url", url, "--tenant", "cli-co",
                           "--role", "worker", "--name", "cli worker")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            key = r.stdout.strip()
            self.assertRegex(key, r"^flovyn_wk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")
            say("tenant create and key create against the database")

            srv = fp.DevServer(SERVER_BINARY, database_url=url, dev=False,
                               extra_args=["--no-migrate"]).start()
            ch, stub = stub_of(srv)
            resp = fp.register_worker(stub, key, tenant_id, name="cli-made", pid=31,
                                      tasks=["t-cli"])
            self.assertTrue(resp.success)
            self.assertEqual(rpc_code(fp.heartbeat, stub, key, resp.worker_id), SC.OK)
            st, _, lst = http(srv, "GET", "/api/tenants/cli-co/workers", admin)
            self.assertEqual((st, [w["id"] for w in lst]), (200, [resp.worker_id]))
            say("serve --no-migrate on that database: the key made by key create registers "
                "and heartbeats over gRPC; the tenant's admin key (from tenant create) reads "
                "the worker over REST")
            st, _, keys = http(srv, "GET", "/api/tenants/cli-co/api-keys", admin)
            self.assertEqual(st, 200, keys)
            kid = [k["id"] for k in keys if k["name"] == "cli worker"]
            self.assertEqual(len(kid), 1, keys)
            r = server_cmd("key", "revoke", "--database-url", url, "--tenant", "cli-co", kid[0])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(rpc_code(fp.register_worker, stub, key, tenant_id, name="cli-made",
                                      pid=32, tasks=["t-cli"]), SC.UNAUTHENTICATED)
            self.assertEqual(rpc_code(fp.heartbeat, stub, key, resp.worker_id),
                             SC.UNAUTHENTICATED)
            ch.close()
            say("key revoke: the running server refuses the key over gRPC at once")
            stop_clean(self, srv, "server")
            srv = None
        finally:
            if srv is not None:
                srv.stop()
            db.drop()

    def test_replicas_migrating_together(self):
        """Three `migrate` and two `serve` started at once on an empty
        database: the advisory lock lets each migration apply once, and
        everyone succeeds."""
        with fp.PgDatabase() as db:
            procs = [subprocess.Popen([SERVER_BINARY, "migrate", "--database-url", db.url],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      stdin=subprocess.DEVNULL) for _ in range(3)]
            servers = [fp.DevServer(SERVER_BINARY, database_url=db.url, dev=False)
                       for _ in range(2)]
            try:
                starters = [threading.Thread(target=s.start) for s in servers]
                for t in starters:
                    t.start()
                outs = [p.communicate(timeout=120) for p in procs]
                for t in starters:
                    t.join(timeout=120)
                for p, (out, err) in zip(procs, outs):
                    self.assertEqual(p.returncode, 0, out + err)
                for s in servers:
                    self.assertIsNotNone(s.proc, "a server did not start")
                    self.assertEqual(http(s, "GET", "/_/health")[0], 200)
                rows = db.query("SELECT version, count(*) FROM schema_migrations GROUP BY version")
                self.assertTrue(rows and all(c == "1" for _, c in rows), rows)
                applied = sum(out.count("applied ") for out, _ in outs)
                for s in servers:
                    stop_clean(self, s, "server")
            finally:
                for s in servers:
                    s.stop()
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
            say("3 migrate and 2 serve at once on an empty database: all succeed, %d migrations "
                "recorded once each" % len(rows), "'applied' lines printed by the migrate "
                "commands together: %d" % applied)


def main():
    global SERVER_BINARY, OWN_CLUSTER_DIR
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    SERVER_BINARY = sys.argv.pop(1)
    OWN_CLUSTER_DIR = os.path.abspath(sys.argv.pop(1))
    fp.read_pg_url()  # fails early, with the reason, outside ctest
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
