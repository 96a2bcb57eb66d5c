#!/usr/bin/python3
"""Discovery end to end: workers registered over gRPC with Debian's
python3-grpcio are seen over REST (raw HTTP with urllib) with the right status,
capabilities, worker counts and versions; operator configuration through PATCH
wins over what workers declare and survives re-registration; silent workers go
DEGRADED then OFFLINE and their definitions UNAVAILABLE; bad input of every
kind of spec/rest-api.md gets the right status and a message naming what was
wrong; keys reach only their tenant and their role.

Every server runs `serve --memory --dev`, or with FLOVYN_E2E_BUNDLE=postgres
`serve --database-url --dev` on a fresh database of the ctest cluster.

Usage: /usr/bin/python3 tests/e2e/test_rest_discovery.py PATH/TO/flovyn-server
"""
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import flovyn_proto as fp  # noqa: E402

SERVER = None


def http(srv, method, path, key=None, body=None, headers=None, raw=None):
    """One HTTP request; returns (status, headers, parsed JSON or text)."""
    data = raw
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    req = urllib.request.Request(srv.http_base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, rh, text = resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, rh, text = e.code, e.headers, e.read().decode()
    ctype = rh.get("Content-Type", "")
    payload = json.loads(text) if text and ctype.startswith("application/json") else text
    return status, rh, payload


def wait_for(what, fn, timeout=30.0):
    """Polls fn until it returns a true value; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Discovery(unittest.TestCase):
    """One server with default thresholds: registrations and reads."""

    @classmethod
    def setUpClass(cls):
        cls.srv = fp.test_server(SERVER).start()
        print("# flovyn-server (%s bundle) on %s" % (cls.srv.bundle, cls.srv.http_base),
              file=sys.stderr, flush=True)
        _, grpc_mod = fp.load()
        cls.channel = fp.channel(cls.srv.grpc_target)
        cls.stub = grpc_mod.WorkerLifecycleStub(cls.channel)
        cls.P = "/api/tenants/" + cls.srv.tenant

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        rc = cls.srv.stop()
        if rc != 0:
            raise AssertionError("server exit %s:\n%s" % (rc, cls.srv.stderr_text()))

    def register(self, name, pid, **kw):
        r = fp.register_worker(self.stub, self.srv.worker_key, self.srv.tenant_id,
                               name=name, host="e2e-host", pid=pid, **kw)
        self.assertTrue(r.success)
        return r.worker_id

    def get(self, path, key=None):
        return http(self.srv, "GET", path, key or self.srv.operator_key)

    def test_registered_worker_is_listed_online_under_both_prefixes(self):
        wid = self.register("lister", 101, workflows=["wf-list"], tasks=["t-list-a", "t-list-b"])
        st, hdrs, body = self.get(self.P + "/workers?limit=100")
        self.assertEqual(st, 200, body)
        mine = [w for w in body if w["id"] == wid]
        self.assertEqual(len(mine), 1)
        w = mine[0]
        self.assertEqual((w["name"], w["type"], w["status"]), ("lister", "UNIFIED", "ONLINE"))
        self.assertEqual((w["hostName"], w["processId"], w["version"]), ("e2e-host", "101", "1.0.0"))
        self.assertIsNone(w["spaceId"])
        self.assertGreaterEqual(int(hdrs["X-Total-Count"]), 1)
        st2, _, body2 = self.get("/api/orgs/%s/workers?limit=100" % self.srv.tenant)
        self.assertEqual(st2, 200)
        self.assertEqual(sorted(x["id"] for x in body2), sorted(x["id"] for x in body))

    def test_worker_detail_lists_capabilities(self):
        wid = self.register("detailed", 102, workflows=["wf-detail"], tasks=["t-detail"])
        st, _, body = self.get(self.P + "/workers/" + wid)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["worker"]["id"], wid)
        self.assertEqual([c["kind"] for c in body["workflowCapabilities"]], ["wf-detail"])
        self.assertEqual([c["kind"] for c in body["taskCapabilities"]], ["t-detail"])

    def test_heartbeats_are_listed_newest_first(self):
        wid = self.register("beater", 103, tasks=["t-beat"])
        fp.heartbeat(self.stub, self.srv.worker_key, wid, health_info=b'{"n":1}')
        fp.heartbeat(self.stub, self.srv.worker_key, wid, health_info=b'{"n":2}')
        st, _, body = self.get(self.P + "/workers/%s/heartbeats?limit=10" % wid)
        self.assertEqual(st, 200, body)
        self.assertEqual([h["healthInfo"] for h in body[:2]], [{"n": 2}, {"n": 1}])

    def test_workflow_versions_and_worker_counts(self):
        a = self.register("ver-a", 104, workflows=[fp.workflow("wf-versions", version="1.0.0")])
        b = self.register("ver-b", 105, workflows=[fp.workflow("wf-versions", version="1.1.0")])
        st, _, d = self.get(self.P + "/workflow-definitions/wf-versions")
        self.assertEqual(st, 200, d)
        self.assertEqual(d["workerCount"], 2)
        self.assertEqual(d["latestVersion"], "1.1.0")
        self.assertEqual(sorted(d["versions"]) if isinstance(d["versions"][0], str)
                         else sorted(v["version"] for v in d["versions"]), ["1.0.0", "1.1.0"])
        self.assertEqual(sorted(w["id"] for w in d["workers"]), sorted([a, b]))
        self.assertEqual(d["availabilityStatus"], "AVAILABLE")
        st, _, lst = self.get(self.P + "/workflow-definitions?limit=100")
        self.assertEqual(st, 200)
        self.assertIn("wf-versions", [x["kind"] for x in lst])

    def test_patch_configuration_wins_and_survives_reregistration(self):
        self.register("conf", 106, tasks=[fp.task("t-conf", timeout_seconds=30)])
        path = self.P + "/task-definitions/t-conf"
        st, _, d = self.get(path)
        self.assertEqual((st, d["timeoutSeconds"]), (200, 30))
        st, _, d = http(self.srv, "PATCH", path + "/configuration", self.srv.operator_key,
                        body={"timeoutSeconds": 120, "retryPolicy": {"maxRetries": 5},
                              "tags": ["slow"]})
        self.assertEqual(st, 200, d)
        self.assertEqual((d["timeoutSeconds"], d["tags"]), (120, ["slow"]))
        self.assertEqual(d["retryPolicy"]["maxRetries"], 5)
        self.assertEqual(d["configuration"]["timeoutSeconds"], 120)
        # The worker registers again declaring other values: the override stays.
        self.register("conf", 106, tasks=[fp.task("t-conf", timeout_seconds=45)])
        st, _, d = self.get(path)
        self.assertEqual((d["timeoutSeconds"], d["configuration"]["timeoutSeconds"]), (120, 120))
        # null removes the override: the declared value shows again.
        st, _, d = http(self.srv, "PATCH", path + "/configuration", self.srv.operator_key,
                        body={"timeoutSeconds": None})
        self.assertEqual((st, d["timeoutSeconds"]), (200, 45))
        self.assertIsNone(d["configuration"]["timeoutSeconds"])

    def test_auth_and_roles(self):
        st, hdrs, body = http(self.srv, "GET", self.P + "/workers")
        self.assertEqual(st, 401)
        self.assertEqual(body["error"]["code"], "UNAUTHENTICATED")
        self.assertIn("Bearer", hdrs.get("WWW-Authenticate", ""))
        st, _, _ = http(self.srv, "GET", self.P + "/workers", "flovyn_sk_0000000000000000_" + "A" * 43)
        self.assertEqual(st, 401)
        # Reads are open to every role of the tenant; changes are not for workers.
        self.assertEqual(self.get(self.P + "/workers", self.srv.worker_key)[0], 200)
        st, _, body = http(self.srv, "PATCH", self.P + "/task-definitions/x/configuration",
                           self.srv.worker_key, body={"tags": None})
        self.assertEqual((st, body["error"]["code"]), (403, "PERMISSION_DENIED"))
        # A tenant that does not exist, and the health route without auth.
        self.assertEqual(self.get("/api/tenants/nobody/workers")[0], 404)
        st, _, body = http(self.srv, "GET", "/_/health")
        self.assertEqual((st, body["status"]), (200, "UP"))

    def test_tenant_isolation_by_every_route(self):
        # A second tenant, created with the dev admin key; its first admin key
        # issues a worker key, whose worker registers over gRPC.
        st, _, t = http(self.srv, "POST", "/api/tenants", self.srv.admin_key,
                        body={"slug": "globex", "name": "Globex"})
        self.assertEqual(st, 201, t)
        g_admin = t["adminKey"]["key"]
        st, _, k = http(self.srv, "POST", "/api/tenants/globex/api-keys", g_admin,
                        body={"role": "worker", "name": "globex worker"})
        self.assertEqual(st, 201, k)
        st, _, k2 = http(self.srv, "POST", "/api/tenants/globex/api-keys", g_admin,
                         body={"role": "operator", "name": "globex operator"})
        self.assertEqual(st, 201, k2)
        g_op = k2["key"]
        r = fp.register_worker(self.stub, k["key"], t["id"], name="globex-worker", host="g",
                               pid=1, tasks=["t-globex"], workflows=["wf-globex"])
        gid = r.worker_id
        # The default tenant's worker key cannot register into globex.
        with self.assertRaises(Exception) as ctx:
            fp.register_worker(self.stub, self.srv.worker_key, t["id"], name="intruder",
                               pid=2, tasks=["t-x"])
        self.assertEqual(ctx.exception.code().name, "PERMISSION_DENIED")

        mine = self.register("isolated", 108, tasks=["t-default-only"])
        G, D = "/api/tenants/globex", self.P
        # Every route of globex, with every key of the default tenant: 403.
        for key in (self.srv.operator_key, self.srv.worker_key, self.srv.admin_key):
            for method, path, body in [
                    ("GET", G + "/workers", None),
                    ("GET", G + "/workers/" + gid, None),
                    ("GET", G + "/workers/%s/heartbeats" % gid, None),
                    ("GET", G + "/workers/%s/status-history" % gid, None),
                    ("DELETE", G + "/workers/" + gid, None),
                    ("GET", G + "/workflow-definitions", None),
                    ("GET", G + "/workflow-definitions/wf-globex", None),
                    ("PATCH", G + "/workflow-definitions/wf-globex/configuration", {"tags": None}),
                    ("GET", G + "/task-definitions", None),
                    ("GET", G + "/task-definitions/t-globex", None),
                    ("PATCH", G + "/task-definitions/t-globex/configuration", {"tags": None}),
                    ("GET", G + "/api-keys", None),
                    ("POST", G + "/api-keys", {"role": "admin", "name": "steal"}),
                    ("GET", G, None),
                    ("GET", "/api/orgs/globex/workers", None)]:
                with self.subTest(key=key[:10], method=method, path=path):
                    st, _, body_ = http(self.srv, method, path, key, body=body)
                    self.assertEqual(st, 403, body_)
        # Globex's worker through the default tenant's paths does not exist.
        for path in ("/workers/" + gid, "/workers/%s/heartbeats" % gid,
                     "/task-definitions/t-globex", "/workflow-definitions/wf-globex"):
            self.assertEqual(self.get(D + path)[0], 404, path)
        st, _, lst = self.get(D + "/workers?limit=100")
        self.assertNotIn(gid, [w["id"] for w in lst])
        # And the other way round.
        st, _, lst = http(self.srv, "GET", G + "/workers?limit=100", g_op)
        self.assertEqual((st, [w["id"] for w in lst]), (200, [gid]))
        self.assertEqual(http(self.srv, "GET", G + "/workers/" + mine, g_op)[0], 404)
        self.assertEqual(http(self.srv, "GET", D + "/workers", g_op)[0], 403)
        # The worker still exists and nothing of globex changed.
        st, _, d = http(self.srv, "GET", G + "/task-definitions/t-globex", g_op)
        self.assertEqual((st, d["workerCount"]), (200, 1))

    def test_metrics_of_a_running_server(self):
        self.register("metered", 109, tasks=["t-metered"])
        self.get(self.P + "/workers")
        st, hdrs, text = http(self.srv, "GET", "/_/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["Content-Type"].startswith("text/plain; version=0.0.4"))

        def value(prefix):
            for line in text.splitlines():
                if line.startswith(prefix):
                    return float(line.rsplit(" ", 1)[1])
            self.fail("no sample %s in:\n%s" % (prefix, text[:2000]))

        self.assertGreaterEqual(value('flovyn_grpc_calls_total{method="/flovyn.v1.'
                                      'WorkerLifecycle/RegisterWorker",code="OK"}'), 1)
        self.assertGreaterEqual(value('flovyn_workers{status="ONLINE"}'), 1)
        self.assertGreaterEqual(value('flovyn_http_requests_total{route="/api/tenants/'
                                      '{tenant_slug}/workers",method="GET",status="200"}'), 1)
        # The exposition as a real parser reads it.
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_every_bad_input_is_a_clear_error(self):
        P, key = self.P, self.srv.operator_key
        cases = [
            ("GET", P + "/workers?limit=0", None, None, 400, "limit"),
            ("GET", P + "/workers?limit=101", None, None, 400, "limit"),
            ("GET", P + "/workers?limit=abc", None, None, 400, "limit"),
            ("GET", P + "/workers?offset=-1", None, None, 400, "offset"),
            ("GET", P + "/workers?type=FOO", None, None, 400, "type"),
            ("GET", P + "/workers?status=SLEEPY", None, None, 400, "status"),
            ("GET", P + "/workers?colour=red", None, None, 400, "colour"),
            ("GET", P + "/task-definitions?availabilityStatus=MAYBE", None, None, 400,
             "availabilityStatus"),
            ("GET", P + "/workers/not-a-uuid", None, None, 400, "UUID"),
            ("GET", P + "/workers/00000000-0000-4000-8000-000000000000", None, None, 404,
             "not found"),
            ("PATCH", P + "/task-definitions/t-bad/configuration", b"{oops",
             {"Content-Type": "application/json"}, 400, "JSON"),
            ("PATCH", P + "/task-definitions/t-bad/configuration", b'{"tags":null}',
             {"Content-Type": "text/plain"}, 415, "application/json"),
            ("PATCH", P + "/task-definitions/t-bad/configuration", b'{"colour":1}',
             {"Content-Type": "application/json"}, 400, "colour"),
            ("PATCH", P + "/task-definitions/t-bad/configuration", b'{"timeoutSeconds":0}',
             {"Content-Type": "application/json"}, 400, "timeout"),
            ("PATCH", P + "/task-definitions/t-bad/configuration",
             b'{"retryPolicy":{"maxRetries":11}}', {"Content-Type": "application/json"}, 400,
             "maxRetries"),
            ("PATCH", P + "/task-definitions/t-bad/configuration",
             b'{"tags":"' + b"x" * (3 * 1024 * 1024) + b'"}',
             {"Content-Type": "application/json"}, 413, "larger"),
            ("GET", P + "/nowhere", None, None, 404, "no route"),
            ("POST", P + "/workers", b"{}", {"Content-Type": "application/json"}, 405, ""),
        ]
        self.register("bad-input", 107, tasks=["t-bad"])
        for method, path, raw, hdrs, want, says in cases:
            with self.subTest(method=method, path=path[:80]):
                st, _, body = http(self.srv, method, path, key, raw=raw, headers=hdrs)
                self.assertEqual(st, want, body)
                self.assertIsInstance(body, dict, "error bodies are JSON")
                self.assertIn("error", body)
                self.assertIn(says.lower(), body["error"]["message"].lower())
        # Nothing was changed by the refused PATCHes.
        st, _, d = self.get(P + "/task-definitions/t-bad")
        self.assertEqual(d["configuration"], {"timeoutSeconds": None, "retryPolicy": None,
                                              "tags": None})


class Liveness(unittest.TestCase):
    """A server with short thresholds: silent workers fade, definitions follow."""

    def test_silent_worker_turns_degraded_then_offline(self):
        args = ["--degraded-after", "1s", "--offline-after", "2s", "--activate-interval", "200ms",
                "--stale-interval", "200ms", "--availability-interval", "200ms"]
        with fp.test_server(SERVER, extra_args=args) as srv:
            _, grpc_mod = fp.load()
            ch = fp.channel(srv.grpc_target)
            stub = grpc_mod.WorkerLifecycleStub(ch)
            quiet = fp.register_worker(stub, srv.worker_key, srv.tenant_id, name="quiet",
                                       pid=1, tasks=["t-quiet"]).worker_id
            alive = fp.register_worker(stub, srv.worker_key, srv.tenant_id, name="alive",
                                       pid=2, tasks=["t-alive"]).worker_id
            stop = threading.Event()

            def beat():
                while not stop.is_set():
                    fp.heartbeat(stub, srv.worker_key, alive)
                    stop.wait(0.3)

            t = threading.Thread(target=beat)
            t.start()
            try:
                P = "/api/tenants/" + srv.tenant

                def status_of(wid):
                    return http(srv, "GET", P + "/workers/" + wid, srv.operator_key)[2]["worker"]["status"]

                wait_for("quiet DEGRADED", lambda: status_of(quiet) in ("DEGRADED", "OFFLINE"))
                wait_for("quiet OFFLINE", lambda: status_of(quiet) == "OFFLINE")
                self.assertEqual(status_of(alive), "ONLINE")
                d = http(srv, "GET", P + "/task-definitions/t-quiet", srv.operator_key)[2]
                self.assertEqual((d["availabilityStatus"], d["workerCount"]), ("UNAVAILABLE", 0))
                d = http(srv, "GET", P + "/task-definitions/t-alive", srv.operator_key)[2]
                self.assertEqual(d["availabilityStatus"], "AVAILABLE")
                # Reads derive the status at once; the stale-detection job
                # records the transitions a moment later.

                def recorded():
                    hist = http(srv, "GET", P + "/workers/%s/status-history" % quiet,
                                srv.operator_key)[2]
                    return [h["to"] for h in reversed(hist)]

                wait_for("OFFLINE recorded", lambda: "OFFLINE" in recorded())
                hist = recorded()
                self.assertEqual(hist[-1], "OFFLINE")
                self.assertIn("DEGRADED", hist)
                # A sign of life brings it back.
                fp.heartbeat(stub, srv.worker_key, quiet)
                self.assertEqual(status_of(quiet), "ONLINE")
            finally:
                stop.set()
                t.join()
                ch.close()
            self.assertEqual(srv.stop(), 0, srv.stderr_text())


def main():
    global SERVER
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    SERVER = sys.argv.pop(1)
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
