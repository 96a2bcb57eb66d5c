#!/usr/bin/python3
"""End-to-end checks of the generic gRPC machinery (adapters/grpc/grpc_server.c)
through tests/grpc/echo_server.c, with Debian's python3-grpcio and raw bytes
(identity serializers, no protobuf).

Usage: /usr/bin/python3 test_grpc_machinery.py PATH/TO/echo_server [--valgrind]

--valgrind runs the server under `valgrind --leak-check=full --error-exitcode=1`
(timings are relaxed) and fails if valgrind reports an error or a leak.
Prints one `ok`/`not ok` line per check (TAP) and exits 1 on any failure.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import check, finish  # noqa: E402

ECHO = "/test.v1.Echo/"
IDENT = lambda b: b  # noqa: E731  raw bytes both ways

class Server:
    """One echo_server process; start() waits for the port line."""

    count = 0

    def __init__(self, binary, valgrind, listen="127.0.0.1:0", grace_ms=0):
        cmd = [binary, listen, "2", str(grace_ms)]
        self.vg_log = None
        Server.count += 1
        if valgrind:
            self.vg_log = "/tmp/fv_grpc_valgrind.%d.%d.log" % (os.getpid(), Server.count)
            cmd = ["valgrind", "--leak-check=full", "--error-exitcode=1",
                   "--errors-for-leak-kinds=definite,indirect,possible",
                   "--log-file=" + self.vg_log] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.stderr = []
        self.port = None
        line = self.proc.stdout.readline().strip()
        if line.isdigit():
            self.port = int(line)
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def stop(self, timeout):
        """SIGTERM, wait; returns (exit code or None if it hung, seconds)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        self._t.join(timeout=5)
        self.rc = rc
        return rc, took

    def check_valgrind(self, name):
        if self.vg_log is None:
            return
        log = open(self.vg_log).read() if os.path.exists(self.vg_log) else ""
        summary = [ln.split("== ", 1)[-1] for ln in log.splitlines()
                   if "ERROR SUMMARY" in ln or "lost:" in ln or "reachable:" in ln]
        good = self.rc == 0 and "ERROR SUMMARY: 0 errors" in log
        check("valgrind clean: " + name, good, "; ".join(summary))
        print("# " + " | ".join(summary))
        if good:
            os.unlink(self.vg_log)
        else:
            print("# valgrind log kept: " + self.vg_log)


def unary(ch, method, req, timeout=5.0, md=None):
    """(status name, reply bytes or details)."""
    f = ch.unary_unary(ECHO + method if not method.startswith("/") else method,
                       request_serializer=IDENT, response_deserializer=IDENT)
    try:
        return "OK", f(req, timeout=timeout, metadata=md)
    except grpc.RpcError as e:
        return e.code().name, e.details()


def stats(ch):
    st, body = unary(ch, "Stats", b"")
    if st != "OK":
        return {}
    return dict(kv.split("=") for kv in body.decode().split())


def wait_cancels(ch, want, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if int(stats(ch).get("cancels", -1)) >= want:
            return True
        time.sleep(0.05)
    return False


def forced_shutdown(binary, valgrind, slow):
    """A call parked without a cancel hook outlives the grace period: stop
    cancels everything, waits for its owner to complete it, exits 0."""
    srv = Server(binary, valgrind, grace_ms=300)
    ch = grpc.insecure_channel("127.0.0.1:%d" % srv.port)
    call = lambda m: ch.unary_unary(ECHO + m, request_serializer=IDENT,  # noqa: E731
                                    response_deserializer=IDENT)
    held = call("Hold").future(b"1500", timeout=60)
    hooked = call("Park").future(b"30000", timeout=60)
    end = time.monotonic() + 5 * slow
    while time.monotonic() < end and stats(ch).get("parked") != "2":
        time.sleep(0.05)
    check("forced: one held and one parked call", stats(ch).get("parked") == "2", stats(ch))
    rc, took = srv.stop(timeout=30 * slow)
    check("forced: exit 0 after cancel_all", rc == 0, (rc, srv.stderr[-5:]))
    print("# forced stop took %.2f s (grace 0.3 s, held call 1.5 s)" % took, flush=True)
    check("forced: logged the cancellation",
          any("cancelling 1 gRPC calls" in line for line in srv.stderr), srv.stderr[-5:])
    try:
        h = held.result(timeout=5)
    except grpc.RpcError as e:
        h = e.code().name
    try:
        p = hooked.result(timeout=5)
    except grpc.RpcError as e:
        p = e.code().name
    check("forced: parked call answered by the flush", p == b"shutdown", p)
    check("forced: held call ended by the cancel", h in ("CANCELLED", "UNAVAILABLE"), h)
    ch.close()
    srv.check_valgrind("forced shutdown after the grace period")


def stop_under_load(binary, valgrind, slow):
    """SIGTERM while 8 clients hammer Echo."""
    srv = Server(binary, valgrind)
    target = "127.0.0.1:%d" % srv.port
    done = threading.Event()
    counts = []

    def client():
        ch = grpc.insecure_channel(target)
        f = ch.unary_unary(ECHO + "Echo", request_serializer=IDENT, response_deserializer=IDENT)
        n = 0
        while not done.is_set():
            try:
                f(b"load", timeout=5)
                n += 1
            except grpc.RpcError:
                break
        counts.append(n)
        ch.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0 * slow)
    rc, took = srv.stop(timeout=30 * slow)
    done.set()
    for t in threads:
        t.join(timeout=10)
    check("under load: %d calls served, exit 0" % sum(counts), rc == 0 and sum(counts) > 0,
          (rc, counts, srv.stderr[-5:]))
    print("# stop under load took %.2f s" % took, flush=True)
    srv.check_valgrind("stop under load")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    valgrind = "--valgrind" in sys.argv[2:]
    slow = 5.0 if valgrind else 1.0

    srv = Server(binary, valgrind)
    if not check("server starts and prints its port", srv.port is not None,
                 "\n".join(srv.stderr)):
        srv.stop(5)
        return 1
    target = "127.0.0.1:%d" % srv.port
    ch = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(ch).result(timeout=10 * slow)
    except grpc.FutureTimeoutError:
        check("channel ready", False)

    # Round trips.
    check("echo round trip", unary(ch, "Echo", b"hello") == ("OK", b"hello"))
    blob = bytes(range(256)) * 4
    check("echo of binary bytes", unary(ch, "Echo", blob) == ("OK", blob))
    check("echo of an empty message", unary(ch, "Echo", b"") == ("OK", b""))

    # Metadata.
    got = unary(ch, "Auth", b"", md=[("authorization", "Bearer secret-1")])
    check("request metadata is visible", got == ("OK", b"Bearer secret-1"), got)
    check("absent metadata reads as absent", unary(ch, "Auth", b"") == ("OK", b""))

    # Unknown methods never hang.
    # With a one-second deadline (more under valgrind): a hanging server would
    # give DEADLINE_EXCEEDED, so the status itself proves the prompt answer.
    got = unary(ch, "/test.v1.Echo/Nope", b"x", timeout=1.0 * slow)
    check("unknown method -> UNIMPLEMENTED within the deadline", got[0] == "UNIMPLEMENTED", got)
    got = unary(ch, "/no.such.Service/Method", b"", timeout=2 * slow)
    check("unknown service -> UNIMPLEMENTED", got[0] == "UNIMPLEMENTED", got)
    many = [unary(ch, "/x.Y/Z%d" % i, b"", timeout=2 * slow)[0] for i in range(20)]
    check("20 unknown calls in a row (slots re-armed)", many == ["UNIMPLEMENTED"] * 20, many)

    # Cardinality: a unary method called with no request message.
    su = ch.stream_unary(ECHO + "Echo", request_serializer=IDENT, response_deserializer=IDENT)
    try:
        su(iter([]), timeout=2 * slow)
        got = ("OK", None)
    except grpc.RpcError as e:
        got = (e.code().name, e.details())
    check("no request message -> UNIMPLEMENTED", got[0] == "UNIMPLEMENTED", got)

    # Failures with details, through the one fv_err -> status mapping.
    got = unary(ch, "Fail", b"NOT_FOUND")
    check("NOT_FOUND with details", got == ("NOT_FOUND", 'thing "x" failed with NOT_FOUND'), got)
    table = {
        "INVALID_ARGUMENT": "INVALID_ARGUMENT", "NOT_FOUND": "NOT_FOUND",
        "ALREADY_EXISTS": "ALREADY_EXISTS", "FAILED_PRECONDITION": "FAILED_PRECONDITION",
        "ABORTED": "ABORTED", "UNAUTHENTICATED": "UNAUTHENTICATED",
        "PERMISSION_DENIED": "PERMISSION_DENIED", "RESOURCE_EXHAUSTED": "RESOURCE_EXHAUSTED",
        "UNAVAILABLE": "UNAVAILABLE", "DEADLINE_EXCEEDED": "DEADLINE_EXCEEDED",
        "INTERNAL": "INTERNAL",
    }
    bad = {k: unary(ch, "Fail", k.encode())[0] for k in table}
    bad = {k: v for k, v in bad.items() if v != table[k]}
    check("every domain error maps to its DESIGN.md 6 status", not bad, bad)
    got = unary(ch, "Park", b"soon")
    check("handler-level bad input -> INVALID_ARGUMENT", got[0] == "INVALID_ARGUMENT", got)

    # Deadline as seen by the handler.
    st, body = unary(ch, "Deadline", b"", timeout=5.0)
    left = int(body) if st == "OK" and body.lstrip(b"-").isdigit() else None
    check("deadline visible to the handler (5 s)",
          left is not None and 5000 - 1000 * slow <= left <= 5100, (st, body))
    f = ch.unary_unary(ECHO + "Deadline", request_serializer=IDENT, response_deserializer=IDENT)
    check("no deadline reads as none", f(b"") == b"none")

    # Message size limit: enforced by the core library.
    got = unary(ch, "Echo", b"x" * (5 * 1024 * 1024), timeout=10 * slow)
    check("5 MiB request -> RESOURCE_EXHAUSTED", got[0] == "RESOURCE_EXHAUSTED", got[0])
    near = b"y" * (4 * 1024 * 1024 - 64)
    got = unary(ch, "Echo", near, timeout=10 * slow)
    check("4 MiB - 64 request echoes", got == ("OK", near), got[0])

    # 200 concurrent parked calls of 300 ms on 2 cq threads.
    park = ch.unary_unary(ECHO + "Park", request_serializer=IDENT, response_deserializer=IDENT)
    t0 = time.monotonic()
    futs = [park.future(b"300", timeout=20 * slow) for _ in range(200)]
    oks = 0
    errs = []
    for fu in futs:
        try:
            if fu.result().startswith(b"parked "):
                oks += 1
        except grpc.RpcError as e:
            errs.append(e.code().name)
    took = time.monotonic() - t0
    check("200 concurrent 300 ms parks all return OK", oks == 200, (oks, errs[:5]))
    # A parked call cannot be answered before its park time: they really waited.
    check("... none answered before its 300 ms park", took >= 0.29, took)
    print("# 200 parks took %.2f s" % took, flush=True)

    # A park beyond the client deadline: DEADLINE_EXCEEDED and the server
    # sees the cancel.
    before = int(stats(ch).get("cancels", 0))
    got = unary(ch, "Park", b"3000", timeout=0.3)
    check("park longer than the deadline -> DEADLINE_EXCEEDED",
          got[0] == "DEADLINE_EXCEEDED", got)
    check("server saw the deadline cancel", wait_cancels(ch, before + 1, 2 * slow), stats(ch))
    # A client-side cancel.
    fu = park.future(b"5000", timeout=30)
    time.sleep(0.2 * slow)
    fu.cancel()
    check("server saw the client cancel", wait_cancels(ch, before + 2, 2 * slow), stats(ch))
    time.sleep(0.1)
    check("no call left parked after cancels", stats(ch).get("parked") == "0", stats(ch))

    # Trailing metadata: invalid entries refused by the API, valid ones sent
    # with the status (at most FV_GRPC_TRAILERS_MAX).
    f = ch.unary_unary(ECHO + "Trailer", request_serializer=IDENT, response_deserializer=IDENT)
    body, call = f.with_call(b"", timeout=5)
    trailers = dict(call.trailing_metadata() or ())
    check("trailers: bad keys and values refused, the fifth entry EXHAUSTED", body == b"ok", body)
    check("trailers: the four valid entries reach the client",
          [trailers.get(k) for k in ("x-first", "x-second", "x-third", "x-fourth")]
          == ["one", "two words", "3", "4"] and "x-fifth" not in trailers, trailers)

    # Out of memory when a call arrives: answered, not dropped, and the server
    # recovers (the OOM path of call_begin).
    check("Oom arms allocation failures", unary(ch, "Oom", b"") == ("OK", b"ok"))
    got = unary(ch, "Echo", b"a", timeout=2 * slow)
    check("call arriving out of memory -> RESOURCE_EXHAUSTED",
          got == ("RESOURCE_EXHAUSTED", "server out of memory"), got)
    got = unary(ch, "/x.Y/Unknown", b"a", timeout=2 * slow)
    check("unknown call arriving out of memory -> RESOURCE_EXHAUSTED",
          got[0] == "RESOURCE_EXHAUSTED", got)
    srv.proc.send_signal(signal.SIGUSR1)
    end = time.monotonic() + 5 * slow
    got = None
    while time.monotonic() < end:
        got = unary(ch, "Echo", b"back", timeout=2 * slow)
        if got[0] == "OK":
            break
        time.sleep(0.05)
    check("server recovers after the allocation failures", got == ("OK", b"back"), got)

    # A second server on the same port must fail (SO_REUSEPORT is off).
    other = subprocess.run([binary, target, "2"], capture_output=True, text=True,
                           timeout=30)
    check("second server on the same port refuses to start",
          other.returncode == 2 and "UNAVAILABLE" in other.stderr,
          (other.returncode, other.stdout, other.stderr))

    # SIGTERM with 50 parked calls in flight.
    futs = [park.future(b"30000", timeout=60) for _ in range(50)]
    end = time.monotonic() + 5 * slow
    while time.monotonic() < end and stats(ch).get("parked") != "50":
        time.sleep(0.05)
    check("50 calls parked", stats(ch).get("parked") == "50", stats(ch))
    rc, took = srv.stop(timeout=30 * slow)
    check("SIGTERM with 50 parked calls: exit 0", rc == 0, (rc, srv.stderr[-5:]))
    print("# stop with 50 parked calls took %.2f s" % took, flush=True)
    answers = []
    for fu in futs:
        try:
            answers.append(fu.result(timeout=5))
        except grpc.RpcError as e:
            answers.append(e.code().name)
        except Exception as e:  # noqa: BLE001  (a hang shows here)
            answers.append(repr(e))
    check("the 50 parked calls were answered by the stop flush",
          answers == [b"shutdown"] * 50, set(map(str, answers)))
    check("the stop flushed them through the cancel hooks",
          any("flushed=50" in line for line in srv.stderr), srv.stderr[-3:])
    ch.close()

    srv.check_valgrind("main server, stopped with 50 parked calls")

    forced_shutdown(binary, valgrind, slow)
    stop_under_load(binary, valgrind, slow)

    return finish()


if __name__ == "__main__":
    sys.exit(main())
