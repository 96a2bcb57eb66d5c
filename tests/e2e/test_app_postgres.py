#!/usr/bin/python3
"""flovyn-server on PostgreSQL, end to end, on a database of its own in the
ctest cluster (FLOVYN_TEST_PG_URL_FILE): the database commands (migrate,
tenant create, key create/list/revoke) with their output and exit statuses;
serve --database-url refusing an unmigrated database with --no-migrate,
migrating at start otherwise; --dev reusing tenant "default" after a restart;
keys made by the commands working over REST (and a revoked one refused);
a worker registered over gRPC and its last heartbeat surviving a restart
(the heartbeat store is flushed at shutdown); a bad URL's password never
printed.

Usage: /usr/bin/python3 tests/e2e/test_app_postgres.py PATH/TO/flovyn-server
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import flovyn_proto as fp  # noqa: E402
from tap import check, finish  # noqa: E402

SERVER = sys.argv[1]
KEY_RE = re.compile(r"^flovyn_(wk|sk)_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def admin_url():
    path = os.environ.get("FLOVYN_TEST_PG_URL_FILE")
    if not path:
        print("FLOVYN_TEST_PG_URL_FILE is not set: run through ctest (fixture pg)")
        sys.exit(1)
    with open(path) as f:
        return f.read().strip()


def with_db(url, name):
    """The cluster URL with another database."""
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def psql(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql, r.stderr))
    return r.stdout.strip()


def run(*args, env_url=None, url=None):
    """flovyn-server ARGS; returns (exit status, stdout, stderr)."""
    env = dict(os.environ)
    for v in ("DATABASE_URL", "FLOVYN_DATABASE_URL"):
        env.pop(v, None)
    if env_url is not None:
        env["DATABASE_URL"] = env_url
    cmd = [SERVER] + list(args)
    if url is not None:
        cmd += ["--database-url", url]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, r.stdout, r.stderr


def http(base, method, path, key=None, body=None):
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def migrations():
    d = os.path.join(ROOT, "migrations")
    if not os.path.isdir(d):
        return []
    return sorted(f[:-4] for f in os.listdir(d) if re.match(r"^[0-9]{4,}_[a-z0-9_]+\.sql$", f))


class Server:
    """`flovyn-server serve --database-url URL --dev` on free loopback ports,
    ready once its credentials file exists; stderr goes to a file."""

    def __init__(self, url, *extra):
        self.dir = tempfile.mkdtemp(prefix="flovyn-pg-e2e-")
        self.creds_path = os.path.join(self.dir, "credentials.json")
        self.err_path = os.path.join(self.dir, "stderr")
        self.grpc_target = "127.0.0.1:%d" % fp.free_port()
        port = fp.free_port()
        self.http_base = "http://127.0.0.1:%d" % port
        cmd = [SERVER, "serve", "--database-url", url, "--dev", "--credentials-file",
               self.creds_path, "--grpc-listen", self.grpc_target,
               "--http-listen", "127.0.0.1:%d" % port] + list(extra)
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("flovyn-server exited with %s:\n%s"
                                   % (self.proc.returncode, self.stderr_text()))
            try:
                with open(self.creds_path) as f:
                    c = json.load(f)
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("no credentials within 30 s:\n" + self.stderr_text())
                time.sleep(0.05)
        self.tenant_id = c["tenantId"]
        self.worker_key, self.operator_key = c["workerKey"], c["operatorKey"]
        self.admin_key = c["adminKey"]

    @property
    def stderr(self):
        return self.stderr_text().splitlines()

    def stderr_text(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        return rc

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def serve(url, *extra):
    return Server(url, *extra)


def main():
    admin = admin_url()
    name = "fv_e2e_%d_%s" % (os.getpid(), os.urandom(4).hex())
    psql(admin, "CREATE DATABASE %s" % name)
    url = with_db(admin, name)
    try:
        scenario(admin, url)
    finally:
        psql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    return finish()


def scenario(admin, url):
    # --- before any migration ---------------------------------------------
    rc, out, err = run("tenant", "create", "acme", url=url)
    check("tenant create on an unmigrated database fails", rc == 1, (rc, err))
    check("... and says to run migrate", "flovyn-server migrate" in err, err)

    srv_rc, _, srv_err = run("serve", "--no-migrate", "--grpc-listen", "127.0.0.1:0",
                             "--http-listen", "127.0.0.1:0", url=url)
    check("serve --no-migrate refuses an unmigrated database (exit 1)", srv_rc == 1,
          (srv_rc, srv_err[-2000:]))
    check("... naming the missing migrations", "lacks" in srv_err and "migrate" in srv_err,
          srv_err[-2000:])

    # --- migrate ----------------------------------------------------------
    rc, out, err = run("migrate", env_url=url)
    expected = migrations()
    lines = out.splitlines()
    check("migrate succeeds (DATABASE_URL)", rc == 0, (rc, out, err))
    check("migrate lists every migration it applied, in order",
          [line[len("applied "):] for line in lines if line.startswith("applied ")] == expected,
          (lines, expected))
    rc, out, err = run("migrate", url=url)
    check("migrate again: up to date", rc == 0 and "up to date" in out, (rc, out, err))
    check("schema_migrations holds every migration",
          psql(url, "SELECT count(*) FROM schema_migrations") == str(len(expected)))

    # --- tenant create ----------------------------------------------------
    rc, out, err = run("tenant", "create", "acme", "--name", "Acme Inc.", url=url)
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines())
    acme_admin = fields.get("admin key", "")
    check("tenant create succeeds", rc == 0, (rc, out, err))
    check("tenant create prints the slug, the id and the admin key on stdout",
          fields.get("tenant") == "acme" and UUID_RE.match(fields.get("id", "")) is not None
          and KEY_RE.match(acme_admin) is not None and acme_admin.startswith("flovyn_sk_"), out)
    check("... and what it did on stderr", 'created tenant "acme"' in err, err)
    check("the id printed is the tenant's",
          psql(url, "SELECT id FROM tenant WHERE slug = 'acme'") == fields.get("id"))
    rc, out, err = run("tenant", "create", "--slug", "globex", url=url)
    check("tenant create --slug works too", rc == 0 and "tenant     globex" in out, (rc, out))
    rc, out, err = run("tenant", "create", "acme", url=url)
    check("the same slug again fails (exit 1, already exists)",
          rc == 1 and "already exists" in err, (rc, err))
    rc, out, err = run("tenant", "create", "Bad Slug", url=url)
    check("a bad slug is a usage error (exit 2)", rc == 2, (rc, err))

    # --- key create / list / revoke ---------------------------------------
    rc, out, err = run("key", "create", "--tenant", "acme", "--role", "worker", "--name", "w1",
                       url=url)
    worker_key = out.strip()
    check("key create worker prints a wk key", rc == 0 and worker_key.startswith("flovyn_wk_")
          and KEY_RE.match(worker_key) is not None, (rc, out, err))
    rc, out, err = run("key", "create", "--tenant", "acme", "--role", "operator", url=url)
    op_key = out.strip()
    check("key create operator prints an sk key", rc == 0 and op_key.startswith("flovyn_sk_"),
          (rc, out, err))
    rc, out, err = run("key", "create", "--tenant", "nope", "--role", "admin", url=url)
    check("key create for an unknown tenant fails", rc == 1 and "not found" in err, (rc, err))

    rc, out, err = run("key", "list", "--tenant", "acme", url=url)
    rows = out.splitlines()
    check("key list succeeds", rc == 0, (rc, out, err))
    check("key list has a header and three keys", len(rows) == 4 and rows[0].startswith("ID"),
          rows)
    by_name = {}
    for row in rows[1:]:
        cols = row.split()
        by_name[" ".join(cols[2:-3])] = cols
    check("key list shows names, roles and prefixes",
          set(by_name) == {"initial admin key", "w1", "operator key"}
          and by_name["w1"][1] == "worker" and worker_key.split("_")[2] == by_name["w1"][-3],
          by_name)
    check("key list never shows key texts", worker_key not in out and op_key not in out)
    check("no key is revoked yet", all(cols[-1] == "-" for cols in by_name.values()), by_name)
    w1_id = by_name["w1"][0]
    check("key ids are UUIDs", UUID_RE.match(w1_id) is not None, w1_id)

    # --- serve on PostgreSQL, with --dev ----------------------------------
    srv = serve(url)
    try:
        base = srv.http_base
        check("serve --database-url --dev starts (tenant default created)",
              any("dev created tenant=default" in line for line in srv.stderr),
              srv.stderr_text())
        st, body = http(base, "GET", "/api/tenants/acme/api-keys", acme_admin)
        check("the admin key made by tenant create works over REST", st == 200, (st, body))
        st, _ = http(base, "GET", "/api/tenants/acme/workers", worker_key)
        check("the worker key made by key create works over REST", st == 200, st)

        rc, out, err = run("key", "revoke", "--tenant", "acme", w1_id, url=url)
        check("key revoke succeeds", rc == 0 and w1_id in err, (rc, out, err))
        st, _ = http(base, "GET", "/api/tenants/acme/workers", worker_key)
        check("a revoked key is refused at once by the running server", st == 401, st)
        rc, out, err = run("key", "revoke", "--tenant", "acme",
                           "00000000-0000-4000-8000-000000000000", url=url)
        check("revoking an unknown key fails", rc == 1 and "not found" in err, (rc, err))
        rc, out, _ = run("key", "list", "--tenant", "acme", url=url)
        revoked = [r for r in out.splitlines() if r.startswith(w1_id)]
        check("key list shows when the key was revoked",
              len(revoked) == 1 and revoked[0].split()[-1] != "-", revoked)

        # A worker and a heartbeat, sent right before the stop.
        _, grpc_mod = fp.load()
        ch = fp.channel(srv.grpc_target)
        stub = grpc_mod.WorkerLifecycleStub(ch)
        r = fp.register_worker(stub, srv.worker_key, srv.tenant_id, name="pg-worker",
                               host="pg-host", pid=4242, tasks=["t-pg"])
        wid = r.worker_id
        fp.heartbeat(stub, srv.worker_key, wid, health_info=b'{"last":true}')
        ch.close()
        first_tenant_id = srv.tenant_id
    finally:
        rc = srv.stop()
        out_text = srv.stderr_text()
        srv.cleanup()
    check("serve stops cleanly on SIGTERM", rc == 0, out_text[-3000:])

    # --- restart: data and the dev tenant survive --------------------------
    srv = serve(url, "--no-migrate")
    try:
        check("a restarted --dev server reuses tenant default",
              any("dev reused tenant=default" in line for line in srv.stderr)
              and srv.tenant_id == first_tenant_id, srv.stderr_text())
        P = "/api/tenants/default"
        st, body = http(srv.http_base, "GET", P + "/workers/" + wid, srv.operator_key)
        check("the worker registered before the restart is there", st == 200, (st, body))
        st, body = http(srv.http_base, "GET", P + "/workers/%s/heartbeats?limit=5" % wid,
                        srv.operator_key)
        check("its last heartbeat, sent just before SIGTERM, was written at shutdown",
              st == 200 and isinstance(body, list) and len(body) >= 1
              and body[0].get("healthInfo") == {"last": True}, (st, body))
        st, body = http(srv.http_base, "GET", P + "/api-keys", srv.admin_key)
        check("the dev keys of both runs exist (6)", st == 200 and len(body) == 6,
              (st, body if st != 200 else len(body)))
    finally:
        rc = srv.stop()
        out_text = srv.stderr_text()
        srv.cleanup()
    check("the restarted server stops cleanly", rc == 0, out_text[-3000:])

    # --- a bad URL never shows its password --------------------------------
    bad = "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/x?connect_timeout=2"
    rc, out, err = run("serve", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                       url=bad)
    check("serve with an unreachable database exits 1", rc == 1, (rc, err[-2000:]))
    check("... saying it could not connect", "could not connect" in err, err[-2000:])
    check("... without the password", "s3cr3t-pw" not in err + out)
    rc, out, err = run("key", "list", "--tenant", "acme", url=bad)
    check("a command with an unreachable database exits 1 without the password",
          rc == 1 and "s3cr3t-pw" not in err + out, (rc, err))
    rc, out, err = run("migrate", url="postgresql://u:s3cr3t-pw@[::1/x")
    check("a malformed URL is refused without the password",
          rc == 1 and "s3cr3t-pw" not in err + out and "invalid database URL" in err, (rc, err))


if __name__ == "__main__":
    sys.exit(main())
