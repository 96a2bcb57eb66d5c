#!/usr/bin/python3
"""flovyn.v1.TaskExecution figures: submit -> claim -> complete throughput in
memory and on PostgreSQL, pgbench's three-transaction queue cycle on the same
cluster as the reference, and the idle cost of long polls.

The load comes from build/bench_task_load (bench/task_load.c, a gRPC C core
client: python3-grpcio is too slow to load this server), found next to the
flovyn-server binary. Every run checks that each submitted task was
completed exactly once and that no call answered other than OK; the figures
themselves are printed, never asserted.

  memory    `serve --memory --dev`: a warm-up cycle, then the cycle at full
            speed of --mem-tasks tasks, submitted for --seconds at most
            (2 submitters keeping 16 SubmitTask calls in flight each, at most
            --backlog tasks not yet completed; 8 workers looping
            PollTask(timeout 1 s) -> CompleteTask), then the latency at light
            load (--light-tasks at --light-rate SubmitTask/s, so the workers'
            polls are parked when a task arrives); then the server's CPU doing
            nothing, with 100 parked PollTask(timeout 30 s), and with one
            client polling 100 times a second with timeout 0
  postgres  a throwaway cluster of its own (scripts/pg-test-cluster.sh in
            /tmp), restarted with durable settings (fsync, synchronous_commit
            and full_page_writes on; --unsafe-fast keeps the script's fast
            settings; --pg-setting adds others), `serve --database-url ...
            --dev` on a fresh database: the same figures (--pg-tasks), with
            the CPU of PostgreSQL (the postmaster and its backends) beside
            the server's, and the WAL written per job (--statements: the
            statements that took the most time, from pg_stat_statements);
            then, the server stopped, pgbench -M prepared with 8 clients
            for 10 s on a database of the same cluster running
            bench/pg/task_cycle.sql (INSERT a job; claim the oldest pending
            one with FOR UPDATE SKIP LOCKED on a partial index and mark it
            running; mark it done: three transactions)

The server, the load generator and PostgreSQL share this machine's cores
(the core count and the load average are printed with every figure), so the
figures say what this machine did, not what the server could do alone.
Exit status 1 when a check failed (a task lost or completed twice, a non-OK
answer, a tool that could not run); everything started is stopped and the
cluster removed.

Usage: /usr/bin/python3 bench/task_bench.py [PATH/TO/flovyn-server] [options]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import flovyn_proto as fp  # noqa: E402

FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
PG_SCHEMA = os.path.join(HERE, "pg", "task_cycle_schema.sql")
PG_CYCLE = os.path.join(HERE, "pg", "task_cycle.sql")

failures = []


def durable(options):
    """The cluster's command line without the script's unsafe -c settings."""
    out, i = [], 0
    while i < len(options):
        if options[i] == "-c" and i + 1 < len(options) and options[i + 1] in FAST_SETTINGS:
            i += 2
            continue
        out.append(options[i])
        i += 1
    return out


def machine():
    la = os.getloadavg()
    return "%d cores, load average %.2f %.2f %.2f" % (os.cpu_count() or 0, la[0], la[1], la[2])


def proc_cpu(pid):
    """utime + stime of a process in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def tree_cpu(pid):
    """A process's CPU plus its children's (a postmaster and its backends)."""
    total = proc_cpu(pid)
    if total is None:
        return None
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == pid:
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            c = proc_cpu(int(name))
            total += c or 0
    return total


def postmaster_pid(cluster):
    with open(os.path.join(cluster.data, "postmaster.pid")) as f:
        return int(f.readline())


def wal_lsn(url):
    return int(fp.psql(url, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").strip())


class Tool:
    """bench_task_load against one running server."""

    def __init__(self, path, srv, db_pid=None):
        self.path, self.srv, self.db_pid = path, srv, db_pid

    def run(self, mode, args, label, show=True, timeout=600):
        cmd = [self.path, mode, "--target", self.srv.grpc_target, "--key", self.srv.worker_key,
               "--org", self.srv.tenant_id, "--queue", "bench-" + uuid.uuid4().hex[:8],
               "--pid", str(self.srv.proc.pid)]
        if self.db_pid is not None:
            cmd += ["--db-pid", str(self.db_pid)]
        cmd += [str(a) for a in args]
        log_mark = len(self.srv.stderr)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        result = {}
        for line in res.stdout.splitlines():
            if line.startswith("result "):
                for item in line.split()[1:]:
                    k, _, v = item.partition("=")
                    try:
                        result[k] = float(v)
                    except ValueError:
                        result[k] = v
            elif show:
                print("   " + line)
        if res.stderr.strip():
            print("   (stderr) " + res.stderr.strip().replace("\n", "\n   (stderr) "))
        bad = [line for line in self.srv.stderr[log_mark:] if " WARN " in line or " ERROR " in line]
        if show or bad:
            print("   server WARN/ERROR lines during the run: %d%s"
                  % (len(bad), ("  e.g. " + bad[0]) if bad else ""))
        if res.returncode != 0 or not result:
            if not show:
                for line in res.stdout.splitlines():
                    print("   " + line)
            failures.append("%s: bench_task_load exited %d" % (label, res.returncode))
            print("   CHECK FAILED: %s (bench_task_load exit status %d)" % (label, res.returncode))
        sys.stdout.flush()
        return result


def cycle_args(args, tasks, seconds=0):
    return ["--tasks", tasks, "--seconds", seconds, "--workers", args.workers,
            "--submitters", args.submitters, "--depth", args.depth, "--backlog", args.backlog]


def measure_cycle(tool, args, tasks, seconds, label, between=None):
    """The warm-up, the cycle at full speed (between(): what to read around
    it), then the light-load latency run. Returns (full, light) results, or
    None when nothing could be submitted."""
    print("== %s: submit -> claim -> complete, %d tasks (submitted for %d s at most), %d workers, "
          "at full speed  [%s]" % (label, tasks, seconds, args.workers, machine()))
    warm = tool.run("cycle", cycle_args(args, max(500, tasks // 10), max(1, seconds // 10)),
                    label + " warm-up", show=False)
    if warm.get("submitted", 0) == 0:
        print("   the warm-up submitted nothing: does this server serve TaskExecution?")
        return None
    before = between() if between else None
    full = tool.run("cycle", cycle_args(args, tasks, seconds), label)
    if between:
        full["between"] = (before, between())
    light = None
    if args.light_rate > 0:
        print("== %s: latency at light load, %d tasks at %g SubmitTask/s, %d workers  [%s]"
              % (label, args.light_tasks, args.light_rate, args.workers, machine()))
        light = tool.run("cycle", cycle_args(args, args.light_tasks)
                         + ["--submit-rate", args.light_rate], label + " light load")
    return full, light


def measure_idle(tool, args, label, db_pid=None):
    out = {}
    pid = tool.srv.proc.pid
    print("== %s: idle server, no client, %d s  [%s]" % (label, args.idle_seconds, machine()))
    t0, c0 = time.monotonic(), proc_cpu(pid)
    d0 = tree_cpu(db_pid) if db_pid else None
    time.sleep(args.idle_seconds)
    t1, c1 = time.monotonic(), proc_cpu(pid)
    d1 = tree_cpu(db_pid) if db_pid else None
    out["none"] = {"server_cpu_pct": 100 * (c1 - c0) / (t1 - t0),
                   "db_cpu_pct": 100 * (d1 - d0) / (t1 - t0) if db_pid else -1}
    print("   server CPU %.2f%% of one core%s" % (
        out["none"]["server_cpu_pct"],
        "; database CPU %.2f%%" % out["none"]["db_cpu_pct"] if db_pid else ""))
    print("== %s: %d parked pollers, PollTask(timeout %d s), %d s  [%s]"
          % (label, args.pollers, args.park_timeout, args.idle_seconds, machine()))
    out["parked"] = tool.run("idle", ["--pollers", args.pollers, "--poll-timeout",
                                      args.park_timeout, "--seconds", args.idle_seconds],
                             label + " parked")
    print("== %s: one client, PollTask(timeout 0) %g times a second, %d s  [%s]"
          % (label, args.rate, args.idle_seconds, machine()))
    out["paced"] = tool.run("idle", ["--pollers", 1, "--rate", args.rate, "--seconds",
                                     args.idle_seconds], label + " paced")
    return out


def run_memory(args, tool_path):
    """{"cycle": (full, light) or None, "idle": {...} or None}"""
    out = {"cycle": None, "idle": None}
    srv = fp.DevServer(args.server, extra_args=args.server_arg).start()
    try:
        print("flovyn-server %s on %s (memory bundle)" % (args.server, srv.grpc_target))
        tool = Tool(tool_path, srv)
        out["cycle"] = measure_cycle(tool, args, args.mem_tasks, args.seconds, "memory")
        if out["cycle"] is not None:
            out["idle"] = measure_idle(tool, args, "memory")
    finally:
        rc = srv.stop(timeout=30)
    if rc != 0:
        failures.append("memory server exited with %s" % rc)
    return out


def pgbench_cycle(cluster_url, args):
    db = fp.PgDatabase(cluster_url=cluster_url, prefix="pgbench_tasks")
    try:
        with open(PG_SCHEMA) as f:
            fp.psql(db.url, f.read())
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(args.pgbench_clients), "-j", "2",
               "-T", str(args.pgbench_seconds), "-f", PG_CYCLE, db.url]
        print("== pgbench: three-transaction job cycle (bench/pg/task_cycle.sql), -M prepared "
              "-c %d -j 2 -T %d  [%s]" % (args.pgbench_clients, args.pgbench_seconds, machine()))
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            failures.append("pgbench failed")
            print("   pgbench failed (%d):\n%s%s" % (res.returncode, res.stdout, res.stderr))
            return None
        tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)",
                              res.stdout).group(1))
        processed = int(re.search(r"number of transactions actually processed: (\d+)",
                                  res.stdout).group(1))
        lat = re.search(r"latency average = ([\d.]+ ms)", res.stdout)
        rows = dict(db.query("SELECT state, count(*) FROM bench_jobs GROUP BY state"))
        done = int(rows.get("2", 0))
        jobs = tps * done / processed if processed else 0.0
        print("   cycles/s %.0f (latency average %s); jobs done %d of %d cycles (pending %s, "
              "running %s)" % (tps, lat.group(1) if lat else "?", done, processed,
                               rows.get("0", 0), rows.get("1", 0)))
        print("   jobs/s   %.0f" % jobs)
        return jobs
    finally:
        db.drop()


def run_postgres(args, tool_path):
    """{"cycle": (full, light) or None, "idle", "pgbench": jobs/s, "wal_per_job"}"""
    cluster = fp.PgCluster("/tmp/flovyn-taskbench-cluster-%d" % os.getpid())
    srv = None
    out = {"cycle": None, "idle": None, "pgbench": None, "wal_per_job": None}
    try:
        cluster.create()
        options = cluster.options if args.unsafe_fast else durable(cluster.options)
        if args.statements:
            options = options + ["-c", "shared_preload_libraries=pg_stat_statements"]
        for setting in args.pg_setting:
            options = options + ["-c", setting]
        if options != cluster.options:
            cluster.stop_server()
            cluster.start_server(options)
        rows = fp.psql(cluster.url, "SELECT name || '=' || setting FROM pg_settings WHERE name IN "
                       "('fsync','synchronous_commit','full_page_writes','shared_buffers',"
                       "'max_connections','autovacuum_naptime') ORDER BY name")
        version = fp.psql(cluster.url, "SHOW server_version").strip()
        print("PostgreSQL %s: %s" % (version, ", ".join(rows.split())))
        pm = postmaster_pid(cluster)
        db = fp.PgDatabase(cluster_url=cluster.url, prefix="flovyn_taskbench")
        srv = fp.DevServer(args.server, database_url=db.url, own_database=db,
                           extra_args=args.server_arg, start_timeout=60).start()
        print("flovyn-server %s on %s (PostgreSQL bundle, database %s)"
              % (args.server, srv.grpc_target, db.name))
        tool = Tool(tool_path, srv, db_pid=pm)

        calls = []

        def between():
            # The WAL position; before the full-speed run, the statement
            # statistics started afresh too.
            if args.statements and not calls:
                fp.psql(db.url, "SELECT pg_stat_statements_reset()")
            calls.append(1)
            return wal_lsn(cluster.url)
        if args.statements:
            fp.psql(db.url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        out["cycle"] = measure_cycle(tool, args, args.pg_tasks, args.seconds, "postgres",
                                     between=between)
        if out["cycle"] is not None:
            full = out["cycle"][0]
            lsn0, lsn1 = full["between"]
            if full.get("completed"):
                out["wal_per_job"] = (lsn1 - lsn0) / full["completed"]
                print("   WAL written during the full-speed run: %.0f bytes per job"
                      % out["wal_per_job"])
            if args.statements:
                top_statements(db.url, full.get("completed") or 1)
            out["idle"] = measure_idle(tool, args, "postgres", db_pid=pm)
        rc = srv.stop(timeout=30)
        srv = None
        if rc != 0:
            failures.append("postgres server exited with %s" % rc)
        out["pgbench"] = pgbench_cycle(cluster.url, args)
    finally:
        if srv is not None:
            srv.stop(timeout=30)
        cluster.remove()
    return out


def top_statements(url, jobs):
    """The statements of the database that took the most time (pg_stat_statements
    since the reset before the full-speed run: that run and the light-load one)."""
    rows = fp.psql(url, "SELECT calls, round(total_exec_time::numeric, 1), "
                   "round(mean_exec_time::numeric, 3), rows, "
                   "regexp_replace(left(query, 110), '\\s+', ' ', 'g') "
                   "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                   "WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 12")
    print("   statements by total time (pg_stat_statements, full-speed and light-load runs; "
          "%d jobs in the first):" % jobs)
    print("   %9s %10s %9s %9s  %s" % ("calls", "total ms", "mean ms", "rows", "query"))
    for line in rows.splitlines():
        c = line.split("|", 4)
        if len(c) == 5:
            print("   %9s %10s %9s %9s  %s" % tuple(c))


def fig(d, key, fmt="%.0f"):
    if not d or key not in d or not isinstance(d[key], float) or d[key] < 0:
        return "-"
    return fmt % d[key]


def per_job_us(d, key):
    if not d or not d.get("completed") or d.get(key, -1) < 0:
        return "-"
    return "%.0f" % (d[key] * 1e6 / d["completed"])


def summary(args, mem, pg):
    print()
    print("== summary (%s; the server, bench_task_load%s share the cores)"
          % (machine(), " and PostgreSQL" if pg else ""))
    row = "   %-48s %18s   %s"
    print(row % ("", "figure", "reference"))
    for name, res in (("memory", mem), ("postgres", pg)):
        if not res or not res["cycle"]:
            continue
        full, light = res["cycle"]
        if name == "memory":
            ref = "Gearman in memory 9-15k jobs/s (TOOLCHAIN.md 8)"
        else:
            ref = "pgbench 3-transaction cycle, same cluster: %s jobs/s" % (
                "%.0f" % res["pgbench"] if res.get("pgbench") else "-")
        print(row % ("%s: jobs/s end to end, %d workers" % (name, args.workers),
                     fig(full, "jobs_per_s"), ref))
        if name == "postgres" and res.get("pgbench") and full.get("jobs_per_s"):
            print(row % ("postgres: flovyn : pgbench",
                         "%.2f : 1" % (full["jobs_per_s"] / res["pgbench"]),
                         "TOOLCHAIN.md 8: ~2.2k jobs/s for three transactions"))
        print(row % ("%s: SubmitTask/s during that run" % name, fig(full, "submit_per_s"), ""))
        print(row % ("%s: submit->done p50/p99 ms at full speed" % name,
                     "%s / %s" % (fig(full, "p50_ms", "%.1f"), fig(full, "p99_ms", "%.1f")),
                     "backlog held at %d tasks at most" % args.backlog))
        if light:
            print(row % ("%s: submit->done p50/p99 ms at %g/s" % (name, args.light_rate),
                         "%s / %s" % (fig(light, "p50_ms", "%.1f"), fig(light, "p99_ms", "%.1f")),
                         "parked polls woken by the submit"))
        cpu = per_job_us(full, "server_cpu_s")
        if name == "postgres":
            cpu += " / " + per_job_us(full, "db_cpu_s")
        print(row % ("%s: CPU us per job, server%s" % (name, " / database" if name == "postgres"
                                                        else ""), cpu, ""))
        if res.get("wal_per_job"):
            print(row % ("postgres: WAL bytes per job", "%.0f" % res["wal_per_job"], ""))
    for name, res in (("memory", mem), ("postgres", pg)):
        if not res or not res["idle"]:
            continue
        idle = res["idle"]
        db = name == "postgres"

        def cpu(d):
            s = fig(d, "server_cpu_pct", "%.2f%%")
            if db:
                s += " + db " + fig(d, "db_cpu_pct", "%.2f%%")
            return s
        print(row % ("%s idle: no client, CPU of one core" % name, cpu(idle["none"]), ""))
        print(row % ("%s idle: %d parked pollers (timeout %d s)"
                     % (name, args.pollers, args.park_timeout), cpu(idle["parked"]), ""))
        print(row % ("%s idle: 1 client, %g polls/s, timeout 0" % (name, args.rate),
                     cpu(idle["paced"]), "issue 6: a few % of a core at most"))
    if failures:
        print("   CHECKS FAILED: " + "; ".join(failures))
    else:
        print("   checks: every submitted task completed exactly once, every call answered OK")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", nargs="?", default=os.path.join(ROOT, "build", "flovyn-server"))
    ap.add_argument("--tool", help="bench_task_load (default: next to the server binary)")
    ap.add_argument("--mem-tasks", type=int, default=50000)
    ap.add_argument("--pg-tasks", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=30,
                    help="stop submitting after this long even if fewer tasks were submitted "
                         "(the warm-up: a tenth of the tasks and of this)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--submitters", type=int, default=2)
    ap.add_argument("--depth", type=int, default=16, help="SubmitTask calls in flight each")
    ap.add_argument("--backlog", type=int, default=1000,
                    help="submitted tasks not yet completed, at most")
    ap.add_argument("--light-rate", type=float, default=200,
                    help="SubmitTask/s of the light-load latency run (0: skip it)")
    ap.add_argument("--light-tasks", type=int, default=1000)
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--pollers", type=int, default=100)
    ap.add_argument("--park-timeout", type=int, default=30)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--pgbench-clients", type=int, default=8)
    ap.add_argument("--pgbench-seconds", type=int, default=10)
    ap.add_argument("--only", choices=("memory", "postgres"))
    ap.add_argument("--statements", action="store_true",
                    help="PostgreSQL: load pg_stat_statements and print the statements that "
                         "took the most time")
    ap.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                    help="PostgreSQL: a setting of the throwaway cluster (repeatable), e.g. "
                         "autovacuum_naptime=5s (the claim index of a busy queue decays between "
                         "vacuums, TOOLCHAIN.md 6); pgbench runs with it too")
    ap.add_argument("--unsafe-fast", action="store_true",
                    help="keep the cluster script's fsync/synchronous_commit/full_page_writes off")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra argument for flovyn-server serve (repeatable)")
    args = ap.parse_args()
    if not os.access(args.server, os.X_OK):
        raise SystemExit("no flovyn-server at %s (build it, or pass its path)" % args.server)
    tool_path = args.tool or os.path.join(os.path.dirname(os.path.abspath(args.server)),
                                          "bench_task_load")
    if not os.access(tool_path, os.X_OK):
        raise SystemExit("no bench_task_load at %s (it is built with the server: bench/"
                         "task_load.c)" % tool_path)
    if args.only != "memory":
        for tool, pkg in (("pgbench", "postgresql"), ("psql", "postgresql-client")):
            if shutil.which(tool) is None:
                raise SystemExit("task_bench: %s not found (apt-get install %s)" % (tool, pkg))
    print("task_bench: %s; load generator %s" % (machine(), tool_path))
    mem = run_memory(args, tool_path) if args.only != "postgres" else None
    if mem and mem["cycle"] is None:
        failures.append("memory: no task could be submitted")
    pg = run_postgres(args, tool_path) if args.only != "memory" else None
    if pg and pg["cycle"] is None:
        failures.append("postgres: no task could be submitted")
    summary(args, mem, pg)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
