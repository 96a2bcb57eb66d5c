"""Python client side of the flovyn.v1 wire contract, built from proto/flovyn.proto.

Used by the end-to-end tests, the demo workers and the benches. Run with Debian's
interpreter (/usr/bin/python3): it needs python3-grpcio and python3-grpc-tools.

    import flovyn_proto as fp
    pb2, pb2_grpc = fp.load()
    with fp.DevServer("/path/to/flovyn-server") as srv:
        chan = fp.channel(srv.grpc_target)
        stub = pb2_grpc.WorkerLifecycleStub(chan)
        resp = fp.register_worker(stub, srv.worker_key, srv.tenant_id,
                                  tasks=["send-email"])
        fp.heartbeat(stub, srv.worker_key, resp.worker_id)
        tasks = pb2_grpc.TaskExecutionStub(chan)
        sub = fp.submit_task(tasks, srv.worker_key, srv.tenant_id, "send-email", {"to": "x"})
        got = fp.poll_task(tasks, srv.worker_key, srv.tenant_id, resp.worker_id,
                           timeout_seconds=5)   # TaskExecutionInfo, or None

On PostgreSQL: DevServer(binary, database_url=URL) serves the production
bundle on that database; PgDatabase() creates a fresh database on the test
cluster (the URL in $FLOVYN_TEST_PG_URL_FILE, given by ctest's fixture "pg")
and drops it again; test_server(binary) is what the end-to-end suites call: a
memory server, or with FLOVYN_E2E_BUNDLE=postgres a server on a fresh
database of its own, dropped when the server stops.

Generated modules (flovyn_pb2, flovyn_pb2_grpc) are written once per content of
the proto into a cache directory named after its SHA-256, then imported from
there. Set FLOVYN_PROTO_CACHE to choose the parent directory (default: the
system temporary directory).
"""
import hashlib
import importlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(REPO_ROOT, "proto")
PROTO_FILE = os.path.join(PROTO_DIR, "flovyn.proto")
# google/protobuf/empty.proto comes from libprotobuf-dev.
WKT_INCLUDE = "/usr/include"

_lock = threading.Lock()
_loaded = None


# ---------------------------------------------------------------------------
# Code generation
# ---------------------------------------------------------------------------

def proto_hash(path=PROTO_FILE):
    """SHA-256 (hex) of a .proto file's bytes."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def generate(proto=PROTO_FILE, include_dirs=(), out_dir=None, grpc_stubs=True):
    """Runs grpc_tools.protoc on one .proto and returns the output directory.

    Without out_dir the output goes to <cache>/flovyn-proto-<uid>-<hash16>, and
    an existing complete directory is reused. Generation happens in a private
    directory renamed into place, so concurrent callers never see half a module.
    Raises RuntimeError with protoc's message if the proto does not compile.
    """
    proto = os.path.abspath(proto)
    includes = [os.path.dirname(proto)] + list(include_dirs) + [WKT_INCLUDE]
    if out_dir is None:
        key = hashlib.sha256((proto_hash(proto) + "|" + "|".join(includes) + "|" +
                              str(grpc_stubs)).encode()).hexdigest()[:16]
        parent = os.environ.get("FLOVYN_PROTO_CACHE") or tempfile.gettempdir()
        out_dir = os.path.join(parent, "flovyn-proto-%d-%s" % (os.getuid(), key))
        if os.path.isfile(os.path.join(out_dir, ".complete")):
            return out_dir
        os.makedirs(parent, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".flovyn-proto-", dir=parent)
    else:
        os.makedirs(out_dir, exist_ok=True)
        work = out_dir

    args = ["grpc_tools.protoc"] + ["-I" + d for d in includes]
    args += ["--python_out=" + work]
    if grpc_stubs:
        args += ["--grpc_python_out=" + work]
    args.append(proto)
    # grpc_tools (Debian python3-grpc-tools) runs in a child process: protoc
    # prints its diagnostics on the process's stderr, so they can be captured
    # and raised with the error.
    res = subprocess.run([sys.executable, "-m"] + args, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("protoc failed on %s: %s" % (proto, (res.stderr or res.stdout).strip()))
    if work == out_dir:
        return out_dir
    open(os.path.join(work, ".complete"), "w").close()
    try:
        os.rename(work, out_dir)
    except OSError:
        # Another process won the race; its directory is as good as ours.
        subprocess.run(["rm", "-rf", work], check=False)
    return out_dir


def import_generated(out_dir, *names):
    """Imports modules by name from a generated directory; returns them in order."""
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    return tuple(importlib.import_module(n) for n in names)


def load():
    """Returns (flovyn_pb2, flovyn_pb2_grpc) generated from proto/flovyn.proto.

    The first call generates (or reuses) the cached modules; later calls return
    the same module objects.
    """
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = import_generated(generate(), "flovyn_pb2", "flovyn_pb2_grpc")
        return _loaded


# ---------------------------------------------------------------------------
# Channels, metadata, calls
# ---------------------------------------------------------------------------

def channel(target, max_message_bytes=None):
    """An insecure (h2c) channel to HOST:PORT.

    max_message_bytes raises the client's own send/receive limits, which a test
    needs to put an oversized message on the wire for the server to refuse.
    """
    import grpc

    options = []
    if max_message_bytes is not None:
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
    return grpc.insecure_channel(target, options=options)


def bearer(key):
    """Call metadata carrying an API key the way the SDKs send it."""
    return (("authorization", "Bearer " + key),)


def sdk_content_hash(kind, version):
    """The SDK's default content hash: hex SHA-256 of "<kind>:<version>"."""
    return hashlib.sha256(("%s:%s" % (kind, version)).encode()).hexdigest()


def workflow(kind, version="1.0.0", content_hash=None, **fields):
    """A WorkflowCapability with the Rust SDK's defaults; fields override."""
    pb2, _ = load()
    values = dict(kind=kind, name=kind, cancellable=True, version=version,
                  content_hash=content_hash or sdk_content_hash(kind, version))
    values.update(fields)
    return pb2.WorkflowCapability(**values)


def task(kind, **fields):
    """A TaskCapability with the SDK's defaults (name = kind, cancellable)."""
    pb2, _ = load()
    values = dict(kind=kind, name=kind, cancellable=True)
    values.update(fields)
    return pb2.TaskCapability(**values)


def registration(org_id, name="py-worker", host=None, pid=None, worker_type="UNIFIED",
                 workflows=(), tasks=(), version="1.0.0", team_id=None):
    """A WorkerRegistrationRequest. workflows/tasks take capability messages or
    kind strings (expanded with workflow()/task()); host and pid default to this
    process's."""
    pb2, _ = load()
    req = pb2.WorkerRegistrationRequest(
        worker_name=name, worker_version=version, worker_type=worker_type, org_id=org_id,
        host_name=host if host is not None else socket.gethostname(),
        process_id=str(pid if pid is not None else os.getpid()),
        workflows=[workflow(w) if isinstance(w, str) else w for w in workflows],
        tasks=[task(t) if isinstance(t, str) else t for t in tasks])
    if team_id is not None:
        req.team_id = team_id
    return req


def register_worker(stub, key, org_id, timeout=10.0, **kwargs):
    """Calls WorkerLifecycle.RegisterWorker and returns the response.

    stub is a flovyn_pb2_grpc.WorkerLifecycleStub; kwargs go to registration().
    Raises grpc.RpcError on a non-OK status.
    """
    return stub.RegisterWorker(registration(org_id, **kwargs), metadata=bearer(key),
                               timeout=timeout)


def heartbeat(stub, key, worker_id, timeout=10.0, health_info=b""):
    """Calls WorkerLifecycle.SendHeartbeat (returns google.protobuf.Empty)."""
    pb2, _ = load()
    return stub.SendHeartbeat(pb2.WorkerHeartbeatRequest(worker_id=worker_id,
                                                         health_info=health_info),
                              metadata=bearer(key), timeout=timeout)


def json_bytes(value):
    """A Python value as the JSON bytes the task messages carry (input,
    output, state values)."""
    return json.dumps(value, separators=(",", ":")).encode()


def submit_task(stub, key, org_id, kind, input=None, queue="", timeout=10.0, **fields):
    """Calls TaskExecution.SubmitTask and returns the SubmitTaskResponse.

    stub is a flovyn_pb2_grpc.TaskExecutionStub; input is a Python value sent
    as JSON (None: no input); fields are other SubmitTaskRequest fields
    (metadata, max_retries, timeout_ms, idempotency_key, ...). Raises
    grpc.RpcError on a non-OK status.
    """
    pb2, _ = load()
    req = pb2.SubmitTaskRequest(org_id=org_id, kind=kind, queue=queue,
                                input=json_bytes(input) if input is not None else b"",
                                **fields)
    return stub.SubmitTask(req, metadata=bearer(key), timeout=timeout)


def poll_task(stub, key, org_id, worker_id, queue="", timeout_seconds=0, timeout=None):
    """Calls TaskExecution.PollTask and returns the TaskExecutionInfo claimed,
    or None when the answer carried no task. The call's deadline (timeout, in
    seconds) defaults to timeout_seconds + 10. Raises grpc.RpcError."""
    pb2, _ = load()
    if timeout is None:
        timeout = max(timeout_seconds, 0) + 10.0
    req = pb2.PollTaskRequest(org_id=org_id, worker_id=worker_id, queue=queue,
                              timeout_seconds=timeout_seconds)
    resp = stub.PollTask(req, metadata=bearer(key), timeout=timeout)
    return resp.task if resp.HasField("task") else None


# ---------------------------------------------------------------------------
# PostgreSQL for tests
# ---------------------------------------------------------------------------

PG_URL_FILE_ENV = "FLOVYN_TEST_PG_URL_FILE"  # set by ctest for tests of the fixture "pg"
BUNDLE_ENV = "FLOVYN_E2E_BUNDLE"               # "memory" (default) or "postgres"


def e2e_bundle():
    """The bundle the end-to-end suites run against: "memory" or "postgres"
    (FLOVYN_E2E_BUNDLE). Raises RuntimeError on anything else, and for
    "postgres" without the cluster's URL file."""
    bundle = os.environ.get(BUNDLE_ENV, "memory") or "memory"
    if bundle not in ("memory", "postgres"):
        raise RuntimeError("%s=%r: expected memory or postgres" % (BUNDLE_ENV, bundle))
    if bundle == "postgres" and not os.environ.get(PG_URL_FILE_ENV):
        raise RuntimeError("%s=postgres needs %s (run the test through ctest, whose fixture "
                           "\"pg\" starts the test cluster)" % (BUNDLE_ENV, PG_URL_FILE_ENV))
    return bundle


def read_pg_url(path=None):
    """The test cluster's URL (superuser, database "postgres") from the file
    named by path or $FLOVYN_TEST_PG_URL_FILE."""
    path = path or os.environ.get(PG_URL_FILE_ENV)
    if not path:
        raise RuntimeError("%s is not set: run this through ctest (fixture \"pg\"), or start "
                           "a cluster with scripts/pg-test-cluster.sh" % PG_URL_FILE_ENV)
    with open(path) as f:
        url = f.read().strip()
    if not url:
        raise RuntimeError("%s is empty" % path)
    return url


def pg_url_with_db(url, dbname):
    """A postgresql:// URL with its database replaced by dbname."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(dbname)))


def psql(url, sql, timeout=60):
    """Runs SQL with psql (no psqlrc, stop at the first error, unaligned
    tuples only) and returns its stdout; raises RuntimeError with psql's
    message on failure. Several statements in one call run as one
    transaction unless the SQL says otherwise."""
    res = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t",
                          "-d", url, "-c", sql],
                         capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise RuntimeError("psql %r failed (%d): %s" % (sql[:120], res.returncode,
                                                       res.stderr.strip()))
    return res.stdout


class PgDatabase:
    """A fresh, empty database on a PostgreSQL cluster, dropped by drop().

    cluster_url defaults to the test cluster's (read_pg_url()). `url` is the
    new database's URL. Use as a context manager or call drop() in a finally
    block; drop() terminates sessions still connected and is idempotent.
    """

    def __init__(self, cluster_url=None, prefix="fv_e2e"):
        self.cluster_url = cluster_url or read_pg_url()
        self.name = "%s_%d_%s" % (prefix, os.getpid(), os.urandom(4).hex())
        psql(self.cluster_url, 'CREATE DATABASE "%s"' % self.name)
        self.url = pg_url_with_db(self.cluster_url, self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()

    def query(self, sql):
        """Runs SQL in this database; returns the rows as lists of text."""
        out = psql(self.url, sql)
        return [line.split("|") for line in out.splitlines() if line != ""]

    def drop(self):
        if self.name is None:
            return
        psql(self.cluster_url, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        self.name = None


CLUSTER_SCRIPT = os.path.join(REPO_ROOT, "scripts", "pg-test-cluster.sh")


class PgCluster:
    """A throwaway PostgreSQL cluster of one's own in `directory`
    (scripts/pg-test-cluster.sh: initdb, a free port, 127.0.0.1 only), which
    can be stopped and started again (pg_ctl as the cluster's owner: the
    postgres user when running as root) on the same port, for tests that take
    the database away and benches that want other settings.

        c = PgCluster("/tmp/x").create()   # c.url: superuser, database "postgres"
        c.stop_server(); c.start_server()  # same port, same socket directory
        c.remove()                         # stop it and delete the directory

    `options` is the server's command line without -D, as PostgreSQL recorded
    it at start (postmaster.opts); start_server(options) starts it with others.
    """

    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.data = os.path.join(self.dir, "data")
        self.url = None
        self.options = None

    @staticmethod
    def _run(args, timeout=180):
        res = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (" ".join(args), res.returncode,
                                                         res.stdout, res.stderr))
        return res.stdout

    def create(self):
        self._run(["bash", CLUSTER_SCRIPT, "stop", self.dir])  # leftovers of a killed run
        self._run(["bash", CLUSTER_SCRIPT, "start", self.dir])
        self.url = read_pg_url(os.path.join(self.dir, "url"))
        with open(os.path.join(self.data, "postmaster.opts")) as f:
            argv = shlex.split(f.read())
        self._pg_ctl = os.path.join(os.path.dirname(argv[0]), "pg_ctl")
        self.options = []
        args = iter(argv[1:])
        for a in args:
            if a == "-D":
                next(args, None)  # pg_ctl gives -D itself
            else:
                self.options.append(a)
        return self

    def pg_ctl(self, *args):
        cmd = [self._pg_ctl, "-D", self.data] + list(args)
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return self._run(cmd)

    def stop_server(self):
        """pg_ctl stop -m fast, waiting until it is down."""
        self.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def start_server(self, options=None):
        """pg_ctl start, waiting until it accepts connections; with the options
        it had (or these)."""
        if options is not None:
            self.options = list(options)
        self.pg_ctl("-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                    "-o", " ".join(shlex.quote(o) for o in self.options), "start")

    def remove(self):
        """Stop the server if it runs and delete the directory. Idempotent."""
        self._run(["bash", CLUSTER_SCRIPT, "stop", self.dir])


# ---------------------------------------------------------------------------
# A flovyn-server process for tests, demos and benches
# ---------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`flovyn-server serve --memory --dev` on free loopback ports.

    With database_url, `serve --database-url URL` instead (the PostgreSQL
    bundle; migrations run at start unless extra_args says --no-migrate).
    own_database (a PgDatabase) is dropped once the server has stopped.

    start() waits until the server serves: with dev (the default) until it has
    written its credentials file, then exposes tenant, tenant_id, worker_key,
    operator_key, admin_key; without dev until its REST port answers HTTP
    (no keys then: create them yourself). grpc_target and http_base are set
    either way. stop() sends a signal and waits; the server's stderr is
    collected in `stderr` (a list of lines) all along. Use as a context
    manager, or call stop() in a finally block: every process started is
    always ended.
    """

    def __init__(self, binary, extra_args=(), start_timeout=30.0, env=None, database_url=None,
                 dev=True, own_database=None):
        self.binary = binary
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.env = env
        self.database_url = database_url
        self.dev = dev
        self.own_database = own_database
        self.proc = None
        self.stderr = []
        self.returncode = None
        self._dir = None
        self._drain_thread = None
        self.tenant = self.tenant_id = None
        self.worker_key = self.operator_key = self.admin_key = None

    @property
    def bundle(self):
        return "postgres" if self.database_url else "memory"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.stderr = []
        self.returncode = None
        self._dir = tempfile.mkdtemp(prefix="flovyn-dev-")
        self.credentials_path = os.path.join(self._dir, "credentials.json")
        self.grpc_port = free_port()
        self.http_port = free_port()
        while self.http_port == self.grpc_port:
            self.http_port = free_port()
        self.grpc_target = "127.0.0.1:%d" % self.grpc_port
        self.http_base = "http://127.0.0.1:%d" % self.http_port
        storage = ["--database-url", self.database_url] if self.database_url else ["--memory"]
        cmd = [self.binary, "serve"] + storage + [
            "--grpc-listen", self.grpc_target,
            "--http-listen", "127.0.0.1:%d" % self.http_port]
        if self.dev:
            cmd += ["--dev", "--credentials-file", self.credentials_path]
        cmd += self.extra_args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     env=self.env)
        self._drain_thread = threading.Thread(target=self._drain, daemon=True)
        self._drain_thread.start()
        try:
            if self.dev:
                self.credentials = self._wait_credentials()
            else:
                self.credentials = None
                self._wait_http()
        except BaseException:
            self.stop()
            raise
        if self.credentials is not None:
            self.tenant = self.credentials["tenant"]
            self.tenant_id = self.credentials["tenantId"]
            self.worker_key = self.credentials["workerKey"]
            self.operator_key = self.credentials["operatorKey"]
            self.admin_key = self.credentials["adminKey"]
        return self

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _wait_credentials(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("flovyn-server exited with %s before it was ready:\n%s"
                                   % (self.proc.returncode, self.stderr_text()))
            try:
                with open(self.credentials_path) as f:
                    creds = json.load(f)
                keys = ("tenant", "tenantId", "workerKey", "operatorKey", "adminKey")
                if all(k in creds for k in keys):
                    return creds
            except (OSError, ValueError):
                pass  # not there yet, or being written
            time.sleep(0.05)
        raise RuntimeError("flovyn-server wrote no credentials within %.0f s:\n%s"
                           % (self.start_timeout, self.stderr_text()))

    def _wait_http(self):
        """Until the REST port answers anything over HTTP (it starts after
        gRPC, so both serve then)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("flovyn-server exited with %s before it was ready:\n%s"
                                   % (self.proc.returncode, self.stderr_text()))
            try:
                with urllib.request.urlopen(self.http_base + "/_/health", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # an HTTP answer, whatever its status
            except (OSError, ValueError):
                pass  # not listening yet
            time.sleep(0.05)
        raise RuntimeError("flovyn-server did not answer HTTP within %.0f s:\n%s"
                           % (self.start_timeout, self.stderr_text()))

    def stderr_text(self):
        if self._drain_thread is not None and self.proc is not None and self.proc.poll() is not None:
            self._drain_thread.join(timeout=5)
        return "\n".join(self.stderr)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the server and waits up to timeout seconds; kills it if it
        hangs. Returns its exit code (None if it had to be killed). Drops
        own_database afterwards. Idempotent."""
        if self.proc is None:
            self._drop_own_database()
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = None
        else:
            self.returncode = self.proc.returncode
        if self._drain_thread is not None:
            self._drain_thread.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        if self._dir is not None:
            subprocess.run(["rm", "-rf", self._dir], check=False)
            self._dir = None
        self._drop_own_database()
        return self.returncode

    def _drop_own_database(self):
        if self.own_database is not None:
            db, self.own_database = self.own_database, None
            db.drop()


def test_server(binary, bundle=None, **kwargs):
    """A DevServer (not started) for the end-to-end suites: in memory, or with
    bundle "postgres" (default: e2e_bundle()) on a fresh database of the test
    cluster that is dropped when the server stops. kwargs go to DevServer."""
    bundle = bundle or e2e_bundle()
    if bundle == "memory":
        return DevServer(binary, **kwargs)
    db = PgDatabase()
    try:
        return DevServer(binary, database_url=db.url, own_database=db, **kwargs)
    except BaseException:
        db.drop()
        raise


# pytest would collect test_server as a test; it is a factory.
test_server.__test__ = False
