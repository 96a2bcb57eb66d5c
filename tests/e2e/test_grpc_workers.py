#!/usr/bin/python3
"""Workers over gRPC against the real flovyn-server (grpc-contract.md 2.1-2.4).

A client built with Debian's python3-grpcio from proto/flovyn.proto (through
scripts/flovyn_proto.py) talks to `flovyn-server serve --memory --dev` started
on free loopback ports (with FLOVYN_E2E_BUNDLE=postgres, `serve --database-url
--dev` on a fresh database of the ctest cluster per server instead): registration and identity, heartbeats, auth and tenant
checks, validation, conflicts, unknown methods, limits, undecodable input, 200
concurrent registrations, and a SIGTERM in the middle of load (exit 0, and no
sanitizer report when the binary is instrumented).

Usage: /usr/bin/python3 tests/e2e/test_grpc_workers.py PATH/TO/flovyn-server
Prints one line per check; exits non-zero if any test fails.
"""
import os
import signal
import sys
import threading
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import flovyn_proto as fp  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

pb2, pb2_grpc = fp.load()
SC = grpc.StatusCode

SERVER_BINARY = None  # set from argv in __main__
SERVER = None         # the DevServer shared by the tests of WorkerLifecycleTest
IDENT = lambda b: b   # noqa: E731  raw bytes both ways

# Every method of flovyn.v1 is served now (TaskExecution: test_grpc_tasks.py),
# so the unserved-method check uses a made-up method of a real service.
NOT_SERVED_YET = "/flovyn.v1.TaskExecution/NoSuchMethod"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "LeakSanitizer",
                     "runtime error:")


def say(what, detail=""):
    """One short line per check that passed (a failed check raises instead)."""
    print("  ok: %s%s" % (what, "  (%s)" % detail if detail else ""), flush=True)


def rpc_error(fn, *args, **kwargs):
    """Calls fn and returns its grpc.RpcError, or None if it succeeded."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    return None


def code_of(err):
    return err.code() if err is not None else SC.OK


def fresh_pid():
    """A process id text no other registration in this run uses."""
    fresh_pid.n += 1
    return str(100000 + fresh_pid.n)


fresh_pid.n = 0


def setUpModule():
    global SERVER
    SERVER = fp.test_server(SERVER_BINARY)
    SERVER.start()
    print("# flovyn-server (%s bundle) on %s, tenant %s (%s)"
          % (SERVER.bundle, SERVER.grpc_target, SERVER.tenant, SERVER.tenant_id), flush=True)


def tearDownModule():
    """Stops the shared server: after every kind of call above it must still
    exit 0 on SIGTERM, without a sanitizer report."""
    if SERVER is None:
        return
    rc = SERVER.stop()
    stderr = SERVER.stderr_text()
    reports = [m for m in SANITIZER_MARKERS if m in stderr]
    if rc != 0 or reports:
        raise AssertionError("shared server: exit code %s, sanitizer reports %s\n%s"
                             % (rc, reports, stderr[-3000:]))
    say("shared server stopped by SIGTERM -> exit 0, no sanitizer report")


class WorkerLifecycleTest(unittest.TestCase):
    """Everything that one shared server can answer."""

    @classmethod
    def setUpClass(cls):
        cls.channel = fp.channel(SERVER.grpc_target)
        cls.stub = pb2_grpc.WorkerLifecycleStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    # -- helpers ------------------------------------------------------------

    def register(self, key=None, org_id=None, **kwargs):
        kwargs.setdefault("pid", fresh_pid())
        return fp.register_worker(self.stub, key or SERVER.worker_key,
                                  org_id or SERVER.tenant_id, **kwargs)

    def register_error(self, request, key=None, metadata=None):
        if metadata is None:
            metadata = fp.bearer(key or SERVER.worker_key)
        return rpc_error(self.stub.RegisterWorker, request, metadata=metadata, timeout=10)

    def heartbeat_error(self, worker_id, metadata=None):
        if metadata is None:
            metadata = fp.bearer(SERVER.worker_key)
        return rpc_error(self.stub.SendHeartbeat, pb2.WorkerHeartbeatRequest(worker_id=worker_id),
                         metadata=metadata, timeout=10)

    def assertCode(self, err, code, what):
        self.assertEqual(code_of(err), code,
                         "%s: got %s %r" % (what, code_of(err), err.details() if err else ""))

    def registered_id(self, **kwargs):
        resp = self.register(**kwargs)
        self.assertTrue(resp.success, resp)
        return resp.worker_id

    # -- registration and identity -------------------------------------------

    def test_register_unified(self):
        resp = self.register(name="e2e-unified", workflows=["e2e-order-flow"],
                             tasks=["e2e-send-email", "e2e-charge-card"])
        self.assertTrue(resp.success, resp)
        wid = uuid.UUID(resp.worker_id)  # raises if it is not a UUID
        self.assertNotEqual(wid.int, 0, "nil worker id")
        self.assertFalse(resp.HasField("error"), resp)
        say("RegisterWorker UNIFIED (1 workflow, 2 tasks) -> success, worker id %s" % wid)

    def test_same_process_same_id(self):
        pid = fresh_pid()
        a = self.register(name="e2e-same", host="host-a", pid=pid, tasks=["e2e-t1"])
        b = self.register(name="e2e-same", host="host-a", pid=pid, tasks=["e2e-t1", "e2e-t2"])
        self.assertTrue(a.success and b.success)
        self.assertEqual(a.worker_id, b.worker_id)
        say("same name, host and pid registering again -> same id")

    def test_new_pid_new_id(self):
        a = self.register(name="e2e-restart", host="host-a", pid=fresh_pid(), tasks=["e2e-t1"])
        b = self.register(name="e2e-restart", host="host-a", pid=fresh_pid(), tasks=["e2e-t1"])
        self.assertTrue(a.success and b.success)
        self.assertNotEqual(a.worker_id, b.worker_id)
        say("same name and host, another pid -> another id")

    # -- heartbeats ------------------------------------------------------------

    def test_heartbeat_registered(self):
        wid = self.registered_id(name="e2e-beat", tasks=["e2e-t1"])
        reply = fp.heartbeat(self.stub, SERVER.worker_key, wid)
        self.assertIsInstance(reply, empty_pb2.Empty)
        self.assertEqual(reply.SerializeToString(), b"")
        say("SendHeartbeat for a registered id -> OK (Empty)")

    def test_heartbeat_unknown_id(self):
        err = self.heartbeat_error(str(uuid.uuid4()))
        self.assertCode(err, SC.NOT_FOUND, "unknown worker id")
        say("SendHeartbeat for an unknown UUID -> NOT_FOUND", err.details())

    def test_heartbeat_malformed_id(self):
        for bad in ("not-a-uuid", "", "1234", str(uuid.uuid4())[:-1] + "g"):
            err = self.heartbeat_error(bad)
            self.assertCode(err, SC.INVALID_ARGUMENT, "worker_id %r" % bad)
        say("SendHeartbeat with malformed worker ids -> INVALID_ARGUMENT", err.details())

    # -- tenants -------------------------------------------------------------

    def test_malformed_org_id(self):
        for bad in ("not-a-uuid", "", "00000000-0000-0000-0000-00000000000"):
            err = self.register_error(fp.registration(bad, pid=fresh_pid(), tasks=["e2e-t1"]))
            self.assertCode(err, SC.INVALID_ARGUMENT, "org_id %r" % bad)
        say("RegisterWorker with malformed org_id -> INVALID_ARGUMENT", err.details())

    def test_other_tenant(self):
        for org in (str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"):
            err = self.register_error(fp.registration(org, pid=fresh_pid(), tasks=["e2e-t1"]))
            self.assertCode(err, SC.PERMISSION_DENIED, "org_id %s" % org)
        say("RegisterWorker with another tenant's org_id (random, nil) -> PERMISSION_DENIED",
            err.details())

    # -- authentication ------------------------------------------------------

    def test_unauthenticated(self):
        req = fp.registration(SERVER.tenant_id, pid=fresh_pid(), tasks=["e2e-t1"])
        key = SERVER.worker_key
        head, _, secret = key.rpartition("_")
        wrong_secret = head + "_" + ("A" if secret[0] != "A" else "B") * len(secret)
        unknown_prefix = "flovyn_wk_%016x_%s" % (0x0123456789abcdef, secret)
        cases = [
            ("no authorization metadata", ()),
            ("wrong secret, well-formed key", fp.bearer(wrong_secret)),
            ("unknown prefix, well-formed key", fp.bearer(unknown_prefix)),
            ("garbage token", fp.bearer("garbage")),
            ("empty token", (("authorization", "Bearer "),)),
            ("fwt_placeholder token", fp.bearer("fwt_placeholder-" + str(uuid.uuid4()))),
            ("Basic scheme with the right key", (("authorization", "Basic " + key),)),
            ("bare key without a scheme", (("authorization", key),)),
        ]
        for what, md in cases:
            err = self.register_error(req, metadata=md)
            self.assertCode(err, SC.UNAUTHENTICATED, "RegisterWorker, " + what)
            err = self.heartbeat_error(str(uuid.uuid4()), metadata=md)
            self.assertCode(err, SC.UNAUTHENTICATED, "SendHeartbeat, " + what)
        say("%d kinds of bad credentials on both RPCs -> UNAUTHENTICATED" % len(cases))

    def test_operator_key_on_worker_rpcs(self):
        req = fp.registration(SERVER.tenant_id, pid=fresh_pid(), tasks=["e2e-t1"])
        err = self.register_error(req, key=SERVER.operator_key)
        self.assertCode(err, SC.PERMISSION_DENIED, "RegisterWorker with the operator key")
        wid = self.registered_id(tasks=["e2e-t1"])
        err = self.heartbeat_error(wid, metadata=fp.bearer(SERVER.operator_key))
        self.assertCode(err, SC.PERMISSION_DENIED, "SendHeartbeat with the operator key")
        say("operator key on RegisterWorker and SendHeartbeat -> PERMISSION_DENIED")

    # -- validation -----------------------------------------------------------

    def test_invalid_registrations_name_the_field(self):
        org = SERVER.tenant_id
        cases = [
            ("empty task kind", "kind",
             fp.registration(org, pid=fresh_pid(), tasks=[fp.task("")])),
            ("empty workflow kind", "kind",
             fp.registration(org, pid=fresh_pid(), workflows=[fp.workflow("")])),
            ("duplicate task kinds", "kind",
             fp.registration(org, pid=fresh_pid(), tasks=["e2e-dup", "e2e-dup"])),
            ("duplicate workflow kinds", "kind",
             fp.registration(org, pid=fresh_pid(), workflows=["e2e-wdup", "e2e-wdup"])),
            ("invalid JSON in workflow input_schema", "input_schema",
             fp.registration(org, pid=fresh_pid(), workflows=[
                 fp.workflow("e2e-w", input_schema=b'{"type": "object"')])),
            ("invalid JSON in task input_schema", "input_schema",
             fp.registration(org, pid=fresh_pid(), tasks=[
                 fp.task("e2e-t", input_schema=b"not json")])),
            ("invalid retry_policy JSON", "retry_policy",
             fp.registration(org, pid=fresh_pid(), tasks=[
                 fp.task("e2e-t", retry_policy=b"{maxRetries: 3}")])),
            ("bad worker_type", "worker_type",
             fp.registration(org, pid=fresh_pid(), worker_type="BOGUS", tasks=["e2e-t"])),
            # A NUL would cut the value short in C ("evil\0name" read as "evil").
            ("NUL in worker_name", "worker_name",
             fp.registration(org, name="evil\x00name", pid=fresh_pid(), tasks=["e2e-t"])),
            ("NUL in a task kind", "kind",
             fp.registration(org, pid=fresh_pid(), tasks=["e2e-t\x00x"])),
            ("NUL in a workflow tag", "tags",
             fp.registration(org, pid=fresh_pid(), workflows=[
                 fp.workflow("e2e-w", tags=["a\x00b"])])),
        ]
        for what, field, req in cases:
            err = self.register_error(req)
            self.assertCode(err, SC.INVALID_ARGUMENT, what)
            self.assertIn(field, err.details() or "", "%s: details do not name %s" % (what, field))
            say("%s -> INVALID_ARGUMENT" % what, err.details())

    # -- conflicts --------------------------------------------------------------

    def test_workflow_conflict_is_a_warning(self):
        kind = "e2e-conflict-" + uuid.uuid4().hex[:8]
        first = self.register(name="e2e-conflict-a", workflows=[
            fp.workflow(kind, version="2.0.0", content_hash="a" * 64)])
        self.assertTrue(first.success, first)
        self.assertEqual(len(first.workflow_conflicts), 0, first)
        second = self.register(name="e2e-conflict-b", workflows=[
            fp.workflow(kind, version="2.0.0", content_hash="b" * 64)])
        self.assertTrue(second.success, second)
        self.assertNotEqual(second.worker_id, first.worker_id)
        listed = [(c.kind, c.existing_worker_id) for c in second.workflow_conflicts]
        self.assertIn((kind, first.worker_id), listed, second)
        say("same workflow kind+version, other content_hash -> success with a conflict naming "
            "the first worker")

    # -- machinery: unknown methods, limits, undecodable input ------------------

    def test_unknown_methods(self):
        for path in ("/flovyn.v1.WorkerLifecycle/Nope", NOT_SERVED_YET, "/no.such.Service/X"):
            call = self.channel.unary_unary(path, request_serializer=IDENT,
                                            response_deserializer=IDENT)
            err = rpc_error(call, b"", metadata=fp.bearer(SERVER.worker_key), timeout=2.0)
            self.assertCode(err, SC.UNIMPLEMENTED, path)
        say("unknown and unserved methods -> UNIMPLEMENTED within a 2 s deadline")

    def test_oversized_message(self):
        chan = fp.channel(SERVER.grpc_target, max_message_bytes=16 * 1024 * 1024)
        try:
            stub = pb2_grpc.WorkerLifecycleStub(chan)
            req = fp.registration(SERVER.tenant_id, pid=fresh_pid(), tasks=["e2e-t1"])
            req.metadata = b"x" * (4 * 1024 * 1024 + 1024)
            err = rpc_error(stub.RegisterWorker, req, metadata=fp.bearer(SERVER.worker_key),
                            timeout=30)
            self.assertCode(err, SC.RESOURCE_EXHAUSTED, "4 MiB + 1 KiB message")
            # The server is still fine afterwards.
            self.assertTrue(self.register(tasks=["e2e-t1"]).success)
        finally:
            chan.close()
        say("a message over 4 MiB -> RESOURCE_EXHAUSTED, server still serving", err.details())

    def test_undecodable_request(self):
        call = self.channel.unary_unary("/flovyn.v1.WorkerLifecycle/RegisterWorker",
                                        request_serializer=IDENT, response_deserializer=IDENT)
        for junk in (b"\xff\xff\xff\xff", b"\x0a\x10abc", b"\x08"):
            err = rpc_error(call, junk, metadata=fp.bearer(SERVER.worker_key), timeout=10)
            self.assertIn(code_of(err), (SC.INVALID_ARGUMENT, SC.INTERNAL),
                          "%r: %s" % (junk, code_of(err)))
        say("undecodable bytes to RegisterWorker -> %s" % code_of(err).name)

    # -- concurrency ---------------------------------------------------------------

    def test_200_concurrent_registrations(self):
        n = 200
        kinds = dict(workflows=["e2e-shared-flow"], tasks=["e2e-shared-a", "e2e-shared-b"])
        channels = [fp.channel(SERVER.grpc_target) for _ in range(4)]
        try:
            stubs = [pb2_grpc.WorkerLifecycleStub(c) for c in channels]
            futures = []
            for i in range(n):
                req = fp.registration(SERVER.tenant_id, name="e2e-crowd", host="crowd-host",
                                      pid=fresh_pid(), **kinds)
                futures.append(stubs[i % len(stubs)].RegisterWorker.future(
                    req, metadata=fp.bearer(SERVER.worker_key), timeout=60))
            ids, failures = [], []
            for f in futures:
                try:
                    resp = f.result()
                    (ids if resp.success else failures).append(resp.worker_id or resp.error)
                except grpc.RpcError as e:
                    failures.append("%s %s" % (e.code(), e.details()))
        finally:
            for c in channels:
                c.close()
        self.assertEqual(failures, [])
        self.assertEqual(len(ids), n)
        self.assertEqual(len(set(ids)), n, "ids are not distinct")
        say("%d concurrent registrations of the same kinds (distinct pids) -> all success, "
            "%d distinct ids" % (n, len(set(ids))))


class ShutdownTest(unittest.TestCase):
    """A server of its own, stopped with SIGTERM while heartbeats pour in."""

    def test_sigterm_under_load(self):
        server = fp.test_server(SERVER_BINARY)
        server.start()
        stop = threading.Event()
        done = []
        errors = []
        try:
            chan = fp.channel(server.grpc_target)
            stub = pb2_grpc.WorkerLifecycleStub(chan)
            wid = fp.register_worker(stub, server.worker_key, server.tenant_id,
                                     name="e2e-load", tasks=["e2e-t1"]).worker_id
            enough = threading.Event()

            def beat():
                while not stop.is_set():
                    try:
                        fp.heartbeat(stub, server.worker_key, wid, timeout=5)
                        done.append(1)
                        if len(done) >= 500:
                            enough.set()
                    except grpc.RpcError as e:
                        errors.append(e.code())
                        if server.proc is None or server.proc.poll() is not None:
                            return

            threads = [threading.Thread(target=beat, daemon=True) for _ in range(8)]
            for t in threads:
                t.start()
            self.assertTrue(enough.wait(60), "the load never reached 500 heartbeats")
            before = len(done)
            rc = server.stop(timeout=10)  # SIGTERM while the 8 threads keep calling
        finally:
            stop.set()
            server.stop()
        for t in threads:
            t.join(timeout=10)
        chan.close()
        stderr = server.stderr_text()
        self.assertEqual(rc, 0, "exit code %s (None = still running after 10 s)\n%s"
                         % (rc, stderr[-3000:]))
        reports = [m for m in SANITIZER_MARKERS if m in stderr]
        self.assertEqual(reports, [], stderr[-3000:])
        say("SIGTERM after %d heartbeats under load (8 threads) -> exit 0 within 10 s, "
            "no sanitizer report" % before,
            "calls refused while stopping: %s" % sorted({c.name for c in errors}))

    def test_sigint_idle(self):
        server = fp.test_server(SERVER_BINARY)
        server.start()
        try:
            rc = server.stop(sig=signal.SIGINT, timeout=10)
        finally:
            server.stop()
        stderr = server.stderr_text()
        self.assertEqual(rc, 0, "exit code %s\n%s" % (rc, stderr[-3000:]))
        self.assertEqual([m for m in SANITIZER_MARKERS if m in stderr], [], stderr[-3000:])
        say("SIGINT on an idle server -> exit 0 within 10 s, no sanitizer report")


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: %s PATH/TO/flovyn-server" % sys.argv[0])
    SERVER_BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
