#!/usr/bin/python3
"""The demo of `make run` against the real flovyn-server: the demo workers run tasks.

1. scripts/demo-workers.py against `flovyn-server serve --memory --dev`: the
   workers register, billing-worker and etl-worker long-poll their queues,
   and tasks submitted over gRPC are run: send-invoice COMPLETED at attempt 1,
   charge-card FAILED at attempt 1 (card declined) then COMPLETED at attempt 2,
   an unknown kind failed with "Unknown task kind: ..." on every attempt, a task
   of queue etl run by etl-worker. Afterwards CompleteTask on each of them
   answers FAILED_PRECONDITION (they are finished). SIGTERM stops the demo
   workers at once (a parked poll is cancelled, not waited for) with exit 0,
   and the server exits 0 without a sanitizer report.
2. scripts/run-demo.sh itself on free ports (FLOVYN_GRPC_LISTEN,
   FLOVYN_HTTP_LISTEN) with a build directory of its own: its banner names the
   queues, the task-submitting snippet it prints is run as printed, the demo
   workers print the outcomes of those tasks, and SIGINT (Ctrl-C) stops it all
   with exit 0, the server's exit status 0 and no sanitizer report.

Every wait is bounded; no timing is asserted.

Usage: /usr/bin/python3 tests/e2e/test_demo.py PATH/TO/flovyn-server
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPTS = os.path.join(REPO, "scripts")
sys.path.insert(0, SCRIPTS)
import flovyn_proto as fp  # noqa: E402

import grpc  # noqa: E402

pb2, pb2_grpc = fp.load()
SC = grpc.StatusCode
PY = "/usr/bin/python3"
DEMO_WORKERS = os.path.join(SCRIPTS, "demo-workers.py")
RUN_DEMO = os.path.join(SCRIPTS, "run-demo.sh")

SERVER_BINARY = None  # set from argv in __main__
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "LeakSanitizer",
                     "runtime error:")
WAIT = 60.0  # bound of every wait for an output line

DECLINED = "card declined (demo: fails the first attempt)"


def say(what, detail=""):
    print("  ok: %s%s" % (what, "  (%s)" % detail if detail else ""), flush=True)


class Output:
    """The lines a process writes on a pipe, read by a thread; wait_for()
    waits (bounded) for a line matching a regular expression."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=WAIT, start=0):
        """Index of the first line from `start` matching pattern; fails the
        test with the output so far if none comes within timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise AssertionError("no line matching %r within %.0f s; output:\n%s"
                                         % (pattern, timeout, "\n".join(self.lines[-80:])))
                self.cond.wait(left)


def outcome(kind, task_id, attempt, result):
    """The demo workers' line for one outcome, as a regular expression."""
    return r"^demo-workers: \S+ +ran %s %s attempt %d -> %s$" % (
        re.escape(kind), re.escape(task_id), attempt, re.escape(result))


def complete_code(stub, key, task_id):
    try:
        stub.CompleteTask(pb2.CompleteTaskRequest(task_execution_id=task_id,
                                                  output=fp.json_bytes({"late": True})),
                          metadata=fp.bearer(key), timeout=10)
    except grpc.RpcError as e:
        return e.code()
    return SC.OK


def children_of(pid):
    """The pids whose parent is pid (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def stop_process(proc, sig, timeout=30.0):
    """Sends sig and waits up to timeout; kills it if it hangs. Returns the
    exit code, None if it had to be killed."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


class DemoWorkersTest(unittest.TestCase):
    def test_demo_workers_run_tasks(self):
        server = fp.test_server(SERVER_BINARY)
        server.start()
        workers = out = chan = None
        try:
            workers = subprocess.Popen(
                [PY, DEMO_WORKERS, "--credentials", server.credentials_path,
                 "--target", server.grpc_target, "--interval", "0.5"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, errors="replace")
            out = Output(workers.stdout)
            for name in ("billing-worker", "etl-worker", "onboarding-worker"):
                out.wait_for(r"^demo-workers: %s +registered id=" % name)
            out.wait_for(r"^demo-workers: billing-worker +runs tasks of queue billing "
                         r"\(send-invoice, charge-card\)$")
            out.wait_for(r"^demo-workers: etl-worker +runs tasks of queue etl \(extract, load\)$")
            say("demo-workers: three workers registered; billing-worker polls queue billing, "
                "etl-worker queue etl")

            chan = fp.channel(server.grpc_target)
            tasks = pb2_grpc.TaskExecutionStub(chan)
            key, org = server.worker_key, server.tenant_id

            def submit(kind, task_input, queue, **fields):
                return fp.submit_task(tasks, key, org, kind, task_input, queue=queue,
                                      **fields).task_execution_id

            invoice = submit("send-invoice", {"invoice": 42}, "billing")
            card = submit("charge-card", {"amount": 1999}, "billing")
            unknown = submit("refund", {"invoice": 42}, "billing", max_retries=1)
            extract = submit("extract", {"table": "orders"}, "etl")

            out.wait_for(outcome("send-invoice", invoice, 1, "COMPLETED"))
            first = out.wait_for(outcome("charge-card", card, 1, "FAILED: " + DECLINED))
            second = out.wait_for(outcome("charge-card", card, 2, "COMPLETED"))
            self.assertLess(first, second)
            out.wait_for(outcome("refund", unknown, 1, "FAILED: Unknown task kind: refund"))
            out.wait_for(outcome("refund", unknown, 2, "FAILED: Unknown task kind: refund"))
            line = out.lines[out.wait_for(outcome("extract", extract, 1, "COMPLETED"))]
            self.assertTrue(line.startswith("demo-workers: etl-worker "), line)
            for task_id in (invoice, card, unknown):
                line = out.lines[out.wait_for(re.escape(task_id))]
                self.assertTrue(line.startswith("demo-workers: billing-worker "), line)
            say("send-invoice COMPLETED at attempt 1; charge-card FAILED (card declined) at "
                "attempt 1, then COMPLETED at attempt 2; an unknown kind FAILED 'Unknown task "
                "kind: refund' at attempts 1 and 2 (max_retries 1); extract run by etl-worker")

            for what, task_id in (("send-invoice", invoice), ("charge-card", card),
                                  ("refund", unknown), ("extract", extract)):
                self.assertEqual(complete_code(tasks, key, task_id), SC.FAILED_PRECONDITION,
                                 "%s %s: CompleteTask after its end" % (what, task_id))
            say("CompleteTask on each of them now -> FAILED_PRECONDITION (finished)")

            # No task was run twice, nothing else failed.
            ran = [ln for ln in out.lines if " ran " in ln]
            self.assertEqual(len(ran), 6, "\n".join(ran))
            self.assertFalse([ln for ln in out.lines if "retrying" in ln or "not accepted" in ln],
                             out.text())

            # SIGTERM while the pollers are parked: they are cancelled, not waited for.
            rc = stop_process(workers, signal.SIGTERM)
            out.thread.join(timeout=10)
            self.assertEqual(rc, 0, "demo-workers exit status\n" + out.text())
            self.assertEqual(out.lines[-1], "demo-workers: stopped", out.text())
            say("SIGTERM -> demo-workers exit 0 ('stopped')")
        finally:
            if chan is not None:
                chan.close()
            if workers is not None:
                stop_process(workers, signal.SIGKILL, timeout=10)
                if out is not None:
                    out.thread.join(timeout=10)
                workers.stdout.close()
            rc = server.stop()
        stderr = server.stderr_text()
        self.assertEqual(rc, 0, "server exit status %s\n%s" % (rc, stderr[-3000:]))
        self.assertEqual([m for m in SANITIZER_MARKERS if m in stderr], [], stderr[-3000:])
        say("SIGTERM -> flovyn-server exit 0, no sanitizer report")


class RunDemoTest(unittest.TestCase):
    def test_run_demo_script(self):
        build = tempfile.mkdtemp(prefix="flovyn-run-demo-")
        os.symlink(os.path.abspath(SERVER_BINARY), os.path.join(build, "flovyn-server"))
        grpc_port = fp.free_port()
        http_port = fp.free_port()
        while http_port == grpc_port:
            http_port = fp.free_port()
        env = dict(os.environ, FLOVYN_GRPC_LISTEN="127.0.0.1:%d" % grpc_port,
                   FLOVYN_HTTP_LISTEN="127.0.0.1:%d" % http_port)
        target = "127.0.0.1:%d" % grpc_port

        def default_sigint():
            # SIGINT may be ignored by whoever started this test (a background
            # job); bash cannot trap a signal ignored at its start.
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        demo = subprocess.Popen(["bash", RUN_DEMO, build], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", env=env, preexec_fn=default_sigint)
        out = Output(demo.stdout)
        children = []
        try:
            top = out.wait_for(r"^ Flovyn is running")
            end = out.wait_for(r"^={20,}$", start=top)
            children = children_of(demo.pid)  # the server and the demo workers
            banner = out.lines[top:end]
            text = "\n".join(banner)
            self.assertIn("   gRPC address   %s   (workers)" % target, banner)
            self.assertIn('queue "billing" (send-invoice, charge-card', text)
            self.assertIn('"etl" (extract, load)', text)

            # The snippet that submits tasks, run as printed (from the top of
            # the source tree, as the banner says).
            start = next(i for i, ln in enumerate(banner) if ln.startswith(" Submit tasks"))
            first = next(i for i in range(start, len(banner))
                         if banner[i].strip() == "/usr/bin/python3 - <<'PY'")
            last = next(i for i in range(first + 1, len(banner)) if banner[i].strip() == "PY")
            code = textwrap.dedent("\n".join(banner[first + 1:last])) + "\n"
            self.assertIn(target, code)
            run = subprocess.run([PY, "-"], input=code, cwd=REPO, capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(run.returncode, 0, "snippet:\n%s\nstderr:\n%s" % (code, run.stderr))
            ids = dict(ln.split() for ln in run.stdout.splitlines())
            self.assertEqual(sorted(ids), ["charge-card", "send-invoice"], run.stdout)
            say("run-demo.sh: banner names the queues; its snippet submitted send-invoice %s "
                "and charge-card %s" % (ids["send-invoice"], ids["charge-card"]))

            out.wait_for(outcome("send-invoice", ids["send-invoice"], 1, "COMPLETED"))
            out.wait_for(outcome("charge-card", ids["charge-card"], 1, "FAILED: " + DECLINED))
            out.wait_for(outcome("charge-card", ids["charge-card"], 2, "COMPLETED"))
            say("run-demo.sh: the demo workers ran them (charge-card at attempt 2)")

            rc = stop_process(demo, signal.SIGINT, timeout=60)
            out.thread.join(timeout=10)
            text = out.text()
            self.assertEqual(rc, 0, "run-demo.sh exit status\n" + text[-4000:])
            self.assertIn("run-demo: stopped (server exit status 0)", out.lines, text[-4000:])
            self.assertIn("demo-workers: stopped", out.lines, text[-4000:])
            self.assertEqual([m for m in SANITIZER_MARKERS if m in text], [], text[-4000:])
            say("SIGINT -> run-demo.sh exit 0, workers stopped, server exit status 0, "
                "no sanitizer report")
        finally:
            if demo.poll() is None:
                stop_process(demo, signal.SIGTERM, timeout=30)
            for pid in children:  # only those run-demo.sh failed to stop
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        ours = build.encode() in f.read()
                    if ours:
                        os.kill(pid, signal.SIGKILL)
                except (OSError, ProcessLookupError):
                    pass
            out.thread.join(timeout=10)
            demo.stdout.close()
            shutil.rmtree(build, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: %s PATH/TO/flovyn-server" % sys.argv[0])
    SERVER_BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
