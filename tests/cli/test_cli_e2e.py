#!/usr/bin/python3
"""The `flovyn` CLI against the real flovyn-server (spec/cli.md, seed 000).

`flovyn-server serve --memory --dev` runs on free loopback ports
(scripts/flovyn_proto.py's DevServer; with FLOVYN_E2E_BUNDLE=postgres,
`serve --database-url --dev` on a fresh database of the ctest cluster); workers register over gRPC with Debian's
python3-grpcio; the CLI runs as a real process with an environment of its own
(no config file but the one a check writes) and its output is compared with
expected text, ids, timestamps and relative times masked. Also checked: -o json
is the body of the same REST call byte for byte; flags before and after the
command; configure changes the effective values and survives re-registration;
the server's errors and the exit statuses; a config file profile; --watch
redraws until SIGINT; paging; a silent worker turns DEGRADED then OFFLINE and
its definitions UNAVAILABLE (a second server with short thresholds, polled
until OFFLINE; the order of what the CLI showed is checked); a stopped server
is "could not connect".

Usage: /usr/bin/python3 tests/cli/test_cli_e2e.py PATH/TO/flovyn-server PATH/TO/flovyn
Prints TAP; exits non-zero if any check fails.
"""
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import flovyn_proto as fp  # noqa: E402
from tap import check, finish  # noqa: E402

pb2, pb2_grpc = fp.load()

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
AGO_RE = re.compile(r"\b\d{1,2}s ago\b")
MASKED_ID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def mask(text):
    """Ids, timestamps and second-scale relative times made stable (same widths
    for ids and timestamps, so columns stay aligned; relative times end their
    line or column)."""
    text = UUID_RE.sub(MASKED_ID, text)
    text = TIME_RE.sub("YYYY-MM-DDTHH:MM:SS.mmmZ", text)
    return AGO_RE.sub("Ns ago", text)


class Cli:
    """Runs the flovyn binary with a clean environment."""

    def __init__(self, binary, home):
        self.binary = binary
        self.home = home
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                    "XDG_CONFIG_HOME": os.path.join(home, "xdg")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def run(self, *args, env=None, timeout=30):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([self.binary] + list(args), env=e, capture_output=True,
                           timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS:
            if m in err:
                check("no sanitizer report from flovyn %s" % " ".join(args), False, err)
        return p.returncode, out, err, p.stdout


def same_text(name, got, want):
    """A check that got == want, with a diff when not."""
    detail = ""
    if got != want:
        detail = "\n" + "".join(difflib.unified_diff(
            want.splitlines(True), got.splitlines(True), "expected", "got"))
    return check(name, got == want, detail)


def http_get(base, path, key):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def register(stub, srv, name, pid, worker_type, workflows=(), tasks=(), version="1.0.0",
             metadata=b""):
    req = fp.registration(srv.tenant_id, name=name, host="e2e-host", pid=pid,
                          worker_type=worker_type, workflows=workflows, tasks=tasks,
                          version=version)
    if metadata:
        req.metadata = metadata
    resp = stub.RegisterWorker(req, metadata=fp.bearer(srv.worker_key), timeout=10)
    return resp.worker_id


# ---------------------------------------------------------------------------
# Expected text
# ---------------------------------------------------------------------------

WORKERS = """\
WORKER ID                             NAME               TYPE      STATUS  LAST HEARTBEAT
xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  billing-worker     TASK      ONLINE  Ns ago
xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  etl-worker         UNIFIED   ONLINE  Ns ago
xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  onboarding-worker  WORKFLOW  ONLINE  Ns ago
xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  onboarding-worker  WORKFLOW  ONLINE  Ns ago
"""

WORKERS_TASK = """\
WORKER ID                             NAME            TYPE  STATUS  LAST HEARTBEAT
xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  billing-worker  TASK  ONLINE  Ns ago
"""

ETL_WORKER = """\
ID:              xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
Name:            etl-worker
Type:            UNIFIED
Status:          ONLINE
Version:         1.4.2
Host:            e2e-host
Process ID:      102
Space:           -
Registered:      YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
Last heartbeat:  YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
Last seen:       YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
Metadata:        {"region":"eu-west-1"}

Workflow capabilities (1):
  KIND         NAME         VERSION  REGISTERED
  nightly-etl  Nightly ETL  2.3.1    Ns ago

Task capabilities (2):
  KIND     NAME     REGISTERED
  extract  Extract  Ns ago
  load     load     Ns ago
"""

WORKFLOW_DEFINITIONS = """\
KIND              NAME              STATUS     WORKERS  VERSIONS
nightly-etl       Nightly ETL       AVAILABLE  1        2.3.1
onboard-customer  onboard-customer  AVAILABLE  2        1.1.0
"""

TASK_DEFINITIONS = """\
KIND          NAME          STATUS     WORKERS  PENDING  OLDEST PENDING
charge-card   charge-card   AVAILABLE  1        0        -
extract       Extract       AVAILABLE  1        0        -
load          load          AVAILABLE  1        0        -
send-invoice  Send Invoice  AVAILABLE  1        0        -
"""

ONBOARD_CUSTOMER = """\
Kind:             onboard-customer
Name:             onboard-customer
Description:      -
Status:           AVAILABLE
Workers:          2
Latest version:   1.1.0
Versions:         1.1.0, 1.0.0
Timeout:          -
Retry policy:     -
Tags:             -
Cancellable:      yes
First seen:       YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
Last registered:  YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
ID:               xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
Space:            -
Metadata:         -
Input schema:     -
Output schema:    -

Workers (2):
  WORKER ID                             NAME               STATUS  VERSION
  xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  onboarding-worker  ONLINE  3.0.0
  xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  onboarding-worker  ONLINE  3.0.0
"""

SEND_INVOICE_CONFIGURED = """\
Kind:             send-invoice
Name:             Send Invoice
Description:      sends the monthly invoice
Status:           AVAILABLE
Workers:          1
Pending tasks:    0
Timeout:          120s (operator override)
Retry policy:     maxRetries=2 (operator override)
Tags:             billing, eu (operator override)
Cancellable:      yes
First seen:       YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
Last registered:  YYYY-MM-DDTHH:MM:SS.mmmZ (Ns ago)
ID:               xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
Space:            -
Metadata:         -
Input schema:     {"type":"object"}
Output schema:    -
"""

SEND_INVOICE_SETTINGS_CLEARED = """\
Timeout:          30s (declared by workers)
Retry policy:     -
Tags:             billing (declared by workers)
"""


def server_clean(srv):
    """The server stopped with exit 0 and no sanitizer report."""
    log = srv.stderr_text()
    check("flovyn-server stopped with exit 0", srv.returncode == 0, log[-2000:])
    check("flovyn-server: no sanitizer report", not any(m in log for m in SANITIZER_MARKERS),
          log[-4000:])


def settings_lines(text):
    """The Timeout, Retry policy and Tags lines of a definition block."""
    return "".join(line for line in text.splitlines(True)
                   if line.startswith(("Timeout:", "Retry policy:", "Tags:")))


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def billing_tasks():
    return [fp.task("send-invoice", name="Send Invoice", description="sends the monthly invoice",
                    timeout_seconds=30, tags=["billing"], input_schema=b'{"type":"object"}'),
            fp.task("charge-card")]


def main_server(server_bin, cli_bin, home):
    with fp.test_server(server_bin) as srv:
        stub = pb2_grpc.WorkerLifecycleStub(fp.channel(srv.grpc_target))
        register(stub, srv, "billing-worker", 101, "TASK", tasks=billing_tasks())
        etl_id = register(stub, srv, "etl-worker", 102, "UNIFIED", version="1.4.2",
                          workflows=[fp.workflow("nightly-etl", version="2.3.1",
                                                 name="Nightly ETL")],
                          tasks=[fp.task("extract", name="Extract"), fp.task("load")],
                          metadata=b'{"region": "eu-west-1"}')
        register(stub, srv, "onboarding-worker", 103, "WORKFLOW", version="3.0.0",
                 workflows=[fp.workflow("onboard-customer", version="1.0.0")])
        register(stub, srv, "onboarding-worker", 104, "WORKFLOW", version="3.0.0",
                 workflows=[fp.workflow("onboard-customer", version="1.1.0")])

        cli = Cli(cli_bin, home)
        env = {"FLOVYN_SERVER": srv.http_base, "FLOVYN_API_KEY": srv.operator_key}

        # Tables.
        rc, out, err, _ = cli.run("workers", "list", env=env)
        check("workers list exits 0", rc == 0, err)
        same_text("workers list table", mask(out), WORKERS)
        rc, out, err, _ = cli.run("workers", "list", "--type", "task", env=env)
        same_text("workers list --type task", mask(out), WORKERS_TASK)
        rc, out, err, _ = cli.run("workers", "list", "--status", "OFFLINE", env=env)
        check("workers list --status OFFLINE: none", rc == 0 and out == "No workers found.\n",
              out + err)
        rc, out, err, _ = cli.run("workers", "get", etl_id, env=env)
        check("workers get exits 0", rc == 0, err)
        same_text("workers get table", mask(out), ETL_WORKER)
        rc, out, err, _ = cli.run("workflows", "definitions", env=env)
        same_text("workflows definitions table", mask(out), WORKFLOW_DEFINITIONS)
        rc, out, err, _ = cli.run("tasks", "definitions", env=env)
        same_text("tasks definitions table", mask(out), TASK_DEFINITIONS)
        rc, out, err, _ = cli.run("workflows", "definitions", "onboard-customer", env=env)
        same_text("workflows definitions <kind>: versions and workers", mask(out),
                  ONBOARD_CUSTOMER)

        # -o json is the server's body, unchanged.
        for args, path in ((("workers", "list"), "/workers"),
                           (("workers", "get", etl_id), "/workers/" + etl_id),
                           (("workflows", "definitions"), "/workflow-definitions?limit=100"),
                           (("tasks", "definitions", "send-invoice"),
                            "/task-definitions/send-invoice")):
            rc, _, err, raw = cli.run(*(args + ("-o", "json")), env=env)
            body = http_get(srv.http_base, "/api/tenants/default" + path, srv.operator_key)
            if not body.endswith(b"\n"):
                body += b"\n"
            check("-o json of %s is the REST body byte for byte" % " ".join(args),
                  rc == 0 and raw == body, err or raw[:300])
            json.loads(raw)

        # Global flags before or after the command.
        only_key = {"FLOVYN_API_KEY": srv.operator_key}
        _, before, _, _ = cli.run("--server", srv.http_base, "-o", "json", "--tenant", "default",
                                  "tasks", "definitions", env=only_key)
        _, after, _, _ = cli.run("tasks", "definitions", "--tenant=default", "--output=json",
                                 "--server=" + srv.http_base, env=only_key)
        check("global flags before and after the command mean the same",
              before == after and before.startswith("["), before[:200] + after[:200])

        # Paging.
        rc, out, err, _ = cli.run("workers", "list", "--limit", "2", env=env)
        check("workers list --limit 2 shows two rows", rc == 0 and len(out.splitlines()) == 3,
              out)
        check("paging note on stderr",
              err == "flovyn: showing 1-2 of 4 workers; --offset 2 shows the next\n", err)
        rc, out, err, _ = cli.run("workers", "list", "--limit", "2", "--offset", "2", env=env)
        check("the last page has no note", rc == 0 and len(out.splitlines()) == 3 and err == "",
              out + err)

        # Configure: overrides, effective values, re-registration, clearing.
        rc, out, err, _ = cli.run("tasks", "configure", "send-invoice", "--timeout", "120",
                                  "--max-retries", "2", "--tags", "billing,eu", env=env)
        check("tasks configure exits 0", rc == 0, err)
        same_text("tasks configure prints the definition as it is now", mask(out),
                  SEND_INVOICE_CONFIGURED)
        register(stub, srv, "billing-worker", 101, "TASK", tasks=billing_tasks())
        rc, out, err, _ = cli.run("tasks", "definitions", "send-invoice", env=env)
        same_text("overrides survive re-registration", settings_lines(out),
                  settings_lines(SEND_INVOICE_CONFIGURED))
        rc, out, err, _ = cli.run("tasks", "configure", "send-invoice", "--timeout", "none",
                                  "--max-retries", "none", "--tags", "none", env=env)
        same_text("none clears the overrides: the declared values apply again",
                  settings_lines(out), SEND_INVOICE_SETTINGS_CLEARED)
        rc, out, err, _ = cli.run("workflows", "configure", "nightly-etl", "--tags", "", env=env)
        check("workflows configure --tags '' sets an empty list",
              rc == 0 and "Tags:             none (operator override)\n" in out, out + err)

        # The server's errors: exit 1, its message on stderr.
        missing = str(uuid.uuid4())
        rc, out, err, _ = cli.run("workers", "get", missing, env=env)
        check("unknown worker: exit 1 with the server's message",
              rc == 1 and out == "" and err.startswith("flovyn: ") and
              err.endswith("(NOT_FOUND, HTTP 404)\n") and missing in err, err)
        rc, out, err, _ = cli.run("tasks", "definitions", "no-such-kind", env=env)
        check("unknown kind: exit 1, NOT_FOUND", rc == 1 and "(NOT_FOUND, HTTP 404)" in err, err)
        rc, out, err, _ = cli.run("workers", "list", "--tenant", "nope", env=env)
        check("unknown tenant: exit 1, NOT_FOUND", rc == 1 and "(NOT_FOUND, HTTP 404)" in err,
              err)
        rc, out, err, _ = cli.run("tasks", "configure", "send-invoice", "--max-retries", "11",
                                  env=env)
        check("out of range: exit 1, INVALID_ARGUMENT",
              rc == 1 and "(INVALID_ARGUMENT, HTTP 400)" in err, err)
        rc, out, err, _ = cli.run("workers", "list", "--limit", "500", env=env)
        check("limit over 100: exit 1, INVALID_ARGUMENT",
              rc == 1 and "(INVALID_ARGUMENT, HTTP 400)" in err, err)
        rc, out, err, _ = cli.run("workers", "list", env={"FLOVYN_SERVER": srv.http_base,
                                                          "FLOVYN_API_KEY": "flovyn_sk_nope"})
        check("bad key: exit 1, UNAUTHENTICATED with a hint",
              rc == 1 and "(UNAUTHENTICATED, HTTP 401); check the API key" in err, err)
        rc, out, err, _ = cli.run("tasks", "configure", "send-invoice", "--timeout", "5",
                                  env={"FLOVYN_SERVER": srv.http_base,
                                       "FLOVYN_API_KEY": srv.worker_key})
        check("a worker key may not configure: exit 1, PERMISSION_DENIED",
              rc == 1 and "(PERMISSION_DENIED, HTTP 403)" in err, err)
        rc, out, err, _ = cli.run("workers", "list", "--type", "robot", env=env)
        check("bad value: exit 2 with the command's usage",
              rc == 2 and err.startswith("flovyn: --type: ") and
              "Usage: flovyn workers list" in err, err)

        # A config file profile.
        cfg_dir = os.path.join(home, "xdg", "flovyn")
        os.makedirs(cfg_dir, exist_ok=True)
        cfg = os.path.join(cfg_dir, "config")
        with open(cfg, "w") as f:
            f.write("# e2e\n[default]\nserver = http://127.0.0.1:1\n\n[profile e2e]\n"
                    "server = %s\napi_key = %s\n" % (srv.http_base, srv.operator_key))
        os.chmod(cfg, 0o600)
        rc, out, err, _ = cli.run("--profile", "e2e", "tasks", "definitions")
        check("--profile reads server and key from the config file", rc == 0 and err == "",
              err)
        same_text("--profile: the same table", mask(out), TASK_DEFINITIONS)
        rc, out, err, _ = cli.run("tasks", "definitions", env={"FLOVYN_PROFILE": "e2e"})
        check("FLOVYN_PROFILE likewise", rc == 0 and mask(out) == TASK_DEFINITIONS, err)
        rc, out, err, _ = cli.run("tasks", "definitions",
                                  env={"FLOVYN_PROFILE": "e2e", "FLOVYN_SERVER": "http://127.0.0.1:1"})
        check("the environment beats the profile", rc == 1 and "could not connect" in err, err)
        os.remove(cfg)

        # --watch: frames every 2 s until SIGINT, then exit 0.
        e = dict(cli.env)
        e.update(env)
        p = subprocess.Popen([cli_bin, "workers", "list", "--watch"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        frames, text, deadline = 0, b"", time.monotonic() + 15
        os.set_blocking(p.stdout.fileno(), False)
        while frames < 2 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.1)
            chunk = p.stdout.read()
            if chunk:
                text += chunk
                frames = text.count(b"Every 2s: flovyn workers list")
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        rest = p.stdout.read() or b""
        err = p.stderr.read().decode("utf-8", "replace")
        p.stdout.close()
        p.stderr.close()
        text += rest
        check("--watch redraws (two frames)", frames >= 2, text[-500:])
        check("--watch: each frame is the table",
              mask(text.decode()).count(WORKERS) >= 2, text[-800:])
        check("--watch: SIGINT ends it with exit 0", rc == 0, "rc=%s %s" % (rc, err))

        base = srv.http_base
    server_clean(srv)
    # The server is gone now.
    rc, out, err, _ = cli.run("workers", "list", env={"FLOVYN_SERVER": base,
                                                      "FLOVYN_API_KEY": "k"})
    check("server stopped: exit 1, could not connect",
          rc == 1 and err == "flovyn: could not connect to %s: Connection refused; is "
          "flovyn-server running? (--server / FLOVYN_SERVER)\n" % base, err)


def liveness(server_bin, cli_bin, home):
    """A silent worker, seen through the CLI: ONLINE, then DEGRADED after 2 s,
    then OFFLINE after 6 s, and its only definition AVAILABLE, DEGRADED, then
    UNAVAILABLE. The CLI is polled until OFFLINE (bounded), and the order of
    what it showed is checked, not when it showed it."""
    args = ["--degraded-after", "2s", "--offline-after", "6s"]
    with fp.test_server(server_bin, extra_args=args) as srv:
        stub = pb2_grpc.WorkerLifecycleStub(fp.channel(srv.grpc_target))
        register(stub, srv, "lonely-worker", 201, "TASK", tasks=[fp.task("solo")])
        cli = Cli(cli_bin, home)
        env = {"FLOVYN_SERVER": srv.http_base, "FLOVYN_API_KEY": srv.operator_key}

        def status_now():
            _, workers, _, _ = cli.run("workers", "list", "-o", "json", env=env)
            _, defs, _, _ = cli.run("tasks", "definitions", "-o", "json", env=env)
            return json.loads(workers)[0]["status"], json.loads(defs)[0]["availabilityStatus"]

        def distinct(values):
            out = []
            for v in values:
                if not out or out[-1] != v:
                    out.append(v)
            return out

        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append(status_now())
            if seen[-1] == ("OFFLINE", "UNAVAILABLE"):
                break
            time.sleep(0.1)
        check("a silent worker reads ONLINE, DEGRADED, then OFFLINE",
              distinct(w for w, _ in seen) == ["ONLINE", "DEGRADED", "OFFLINE"], seen)
        check("its definition reads AVAILABLE, DEGRADED, then UNAVAILABLE",
              distinct(d for _, d in seen) == ["AVAILABLE", "DEGRADED", "UNAVAILABLE"], seen)
        rc, out, err, _ = cli.run("workers", "list", env=env)
        check("silent: the table says OFFLINE",
              rc == 0 and re.search(r"lonely-worker  TASK  OFFLINE  \d+s ago\n$", out), out)
        rc, out, err, _ = cli.run("tasks", "definitions", env=env)
        same_text("its definition is UNAVAILABLE with no workers", out,
                  "KIND  NAME  STATUS       WORKERS  PENDING  OLDEST PENDING\n"
                  "solo  solo  UNAVAILABLE  0        0        -\n")
    server_clean(srv)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    server_bin, cli_bin = sys.argv[1], sys.argv[2]
    home = tempfile.mkdtemp(prefix="flovyn-cli-e2e-")
    try:
        main_server(server_bin, cli_bin, home)
        liveness(server_bin, cli_bin, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
