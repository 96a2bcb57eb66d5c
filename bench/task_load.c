/*
 * Load generator for flovyn.v1.TaskExecution, on the gRPC C core client API
 * (python3-grpcio is too slow to load this server). bench/task_bench.py runs
 * it against a server it started; it can also be pointed at any server.
 *
 *   cycle  S submitter threads call SubmitTask (each keeping --depth calls in
 *          flight) until --tasks N were submitted or --seconds passed, while
 *          W worker threads each loop PollTask(timeout_seconds --poll-timeout)
 *          -> CompleteTask, like an SDK worker. Every task carries its
 *          sequence number in its input, so the tool checks that every
 *          submitted task was completed exactly once, and measures jobs/s end
 *          to end (completions over the time from the first submit to the
 *          last completion), submits/s and the submit-to-completion latency.
 *   idle   P pollers, either parked (PollTask with timeout_seconds T, again
 *          each time one is answered) or each polling with timeout 0 at
 *          --rate per second, for --seconds; with --pid, the CPU that process
 *          (the server) used over that window, as % of one core.
 *
 * Every thread has a channel of its own (its own connection: local
 * subchannel pool) and a completion queue of its own; every call carries
 * `authorization: Bearer <key>`. Prints figures and one machine-readable
 * line starting with "result "; exit status 0 when every check held, 1 when
 * one did not (a task lost or completed twice, a non-OK answer), 2 on a
 * usage or setup error. Without arguments it prints one line and exits 0
 * (`make bench` runs every build/bench_* that way).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/util/alloc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "flovyn.pb-c.h"

#define NCODES 17 /* gRPC status codes 0..16 */

static const char *const code_names[NCODES] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

#define M_SUBMIT   "/flovyn.v1.TaskExecution/SubmitTask"
#define M_POLL     "/flovyn.v1.TaskExecution/PollTask"
#define M_COMPLETE "/flovyn.v1.TaskExecution/CompleteTask"
#define M_REGISTER "/flovyn.v1.WorkerLifecycle/RegisterWorker"

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

typedef struct opts {
    const char *mode;
    const char *target;
    const char *key;
    const char *org;
    const char *queue;
    const char *kind;
    long submitters;
    long depth;
    long workers;
    long tasks;
    double seconds;
    long backlog;
    long poll_timeout;
    long max_errors;
    double drain;
    bool register_workers;
    long pollers;
    double rate;
    double warmup;
    double submit_rate;
    long pid;
    long db_pid;
    bool quiet;
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_task_load cycle --target HOST:PORT --key KEY --org UUID [options]\n"
               "       bench_task_load idle  --target HOST:PORT --key KEY --org UUID [options]\n"
               "\n"
               "common:  --queue Q (default bench)  --pid PID (the server: its CPU over the\n"
               "         run)  --db-pid PID (the database: the CPU of this process and its\n"
               "         children, e.g. the postmaster and its backends)\n"
               "cycle:   --submitters S (2)  --depth D (16 SubmitTask calls in flight per\n"
               "         submitter)  --workers W (8)  --tasks N (20000: total, and the cap)\n"
               "         --seconds T (0: until N)  --backlog B (2000 submitted, not yet\n"
               "         completed; 0: no limit)  --poll-timeout S (1)  --kind K (bench-task)\n"
               "         --no-register (poll with a client-side worker name instead of the\n"
               "         UUID of a registered worker)  --max-errors E (1000 failed submits)\n"
               "         --drain S (30: give up waiting for completions after S seconds\n"
               "         without progress)  --submit-rate R (0: as fast as possible; R > 0:\n"
               "         R SubmitTask calls a second in all, for the latency at light load)\n"
               "idle:    --pollers P (100)  --poll-timeout T (30; parked polls)  --rate R\n"
               "         (0: parked; R > 0: each poller polls R times a second with\n"
               "         timeout 0)  --seconds D (10)  --warmup W (1 s before the window)\n"
               "         --quiet (only the result line)\n");
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* 0 ok, 2 bad usage. */
static int parse_opts(int argc, char **argv, opts *o)
{
    *o = (opts){.queue = "bench",
                .kind = "bench-task",
                .submitters = 2,
                .depth = 16,
                .workers = 8,
                .tasks = 20000,
                .seconds = -1,
                .backlog = 2000,
                .poll_timeout = -1,
                .max_errors = 1000,
                .drain = 30,
                .register_workers = true,
                .pollers = 100,
                .rate = 0,
                .warmup = 1,
                .pid = 0};
    if (argc < 2)
        return 2;
    o->mode = argv[1];
    if (strcmp(o->mode, "cycle") != 0 && strcmp(o->mode, "idle") != 0) {
        fprintf(stderr, "bench_task_load: unknown mode \"%s\"\n", o->mode);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        bool takes = true;
        if (strcmp(a, "--no-register") == 0) {
            o->register_workers = false;
            takes = false;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            takes = false;
        } else if (v == NULL) {
            fprintf(stderr, "bench_task_load: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--target") == 0) {
            o->target = v;
        } else if (strcmp(a, "--key") == 0) {
            o->key = v;
        } else if (strcmp(a, "--org") == 0) {
            o->org = v;
        } else if (strcmp(a, "--queue") == 0) {
            o->queue = v;
        } else if (strcmp(a, "--kind") == 0) {
            o->kind = v;
        } else if (strcmp(a, "--submitters") == 0) {
            ok = parse_long(v, 1, 256, &o->submitters);
        } else if (strcmp(a, "--depth") == 0) {
            ok = parse_long(v, 1, 1024, &o->depth);
        } else if (strcmp(a, "--workers") == 0) {
            ok = parse_long(v, 1, 1024, &o->workers);
        } else if (strcmp(a, "--tasks") == 0) {
            ok = parse_long(v, 1, 100000000, &o->tasks);
        } else if (strcmp(a, "--seconds") == 0) {
            ok = parse_double(v, 0, 86400, &o->seconds);
        } else if (strcmp(a, "--backlog") == 0) {
            ok = parse_long(v, 0, 100000000, &o->backlog);
        } else if (strcmp(a, "--poll-timeout") == 0) {
            ok = parse_long(v, 0, 3600, &o->poll_timeout);
        } else if (strcmp(a, "--max-errors") == 0) {
            ok = parse_long(v, 1, 100000000, &o->max_errors);
        } else if (strcmp(a, "--drain") == 0) {
            ok = parse_double(v, 0.1, 86400, &o->drain);
        } else if (strcmp(a, "--submit-rate") == 0) {
            ok = parse_double(v, 0, 1e7, &o->submit_rate);
        } else if (strcmp(a, "--pollers") == 0) {
            ok = parse_long(v, 1, 100000, &o->pollers);
        } else if (strcmp(a, "--rate") == 0) {
            ok = parse_double(v, 0, 1e6, &o->rate);
        } else if (strcmp(a, "--warmup") == 0) {
            ok = parse_double(v, 0, 3600, &o->warmup);
        } else if (strcmp(a, "--pid") == 0) {
            ok = parse_long(v, 1, 1L << 30, &o->pid);
        } else if (strcmp(a, "--db-pid") == 0) {
            ok = parse_long(v, 1, 1L << 30, &o->db_pid);
        } else {
            fprintf(stderr, "bench_task_load: unknown option %s\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "bench_task_load: bad value for %s: \"%s\"\n", a, v);
            return 2;
        }
        if (takes)
            i++;
    }
    if (o->target == NULL || o->key == NULL || o->org == NULL) {
        fprintf(stderr, "bench_task_load: --target, --key and --org are required\n");
        return 2;
    }
    bool cycle = strcmp(o->mode, "cycle") == 0;
    if (o->poll_timeout < 0)
        o->poll_timeout = cycle ? 1 : 30;
    if (o->seconds < 0)
        o->seconds = cycle ? 0 : 10;
    return 0;
}

/* ------------------------------------------------------------------------
 * Clocks and the CPU of a process
 * ------------------------------------------------------------------------ */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* utime + stime of a process in seconds (fields 14 and 15 of
 * /proc/<pid>/stat, counted after the command name's closing parenthesis);
 * negative when it cannot be read. */
static double proc_cpu_s(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* After ") ": state(3) ppid(4) ... utime(14) stime(15). */
    p += 2;
    unsigned long long utime = 0, stime = 0;
    int field = 3;
    while (*p != '\0' && field < 14) {
        if (*p == ' ')
            field++;
        p++;
    }
    if (sscanf(p, "%llu %llu", &utime, &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
}

/* The CPU of a process and of its children (a postmaster and its backends):
 * their sum at the time of reading; a child that exited since an earlier
 * reading takes its time along. Negative when the parent cannot be read. */
static double tree_cpu_s(long pid)
{
    double total = proc_cpu_s(pid);
    if (total < 0)
        return -1;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return total;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long child = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || child == pid)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", child);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        long ppid = 0;
        char state = 0;
        if (p != NULL && sscanf(p + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid) {
            double c = proc_cpu_s(child);
            if (c > 0)
                total += c;
        }
    }
    closedir(d);
    return total;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU readings at one instant: the server's, the database's, this tool's. */
typedef struct cpu_mark {
    double server;
    double db;
    double self;
    int64_t t;
} cpu_mark;

static cpu_mark cpu_take(long pid, long db_pid)
{
    return (cpu_mark){.server = pid > 0 ? proc_cpu_s(pid) : -1,
                      .db = db_pid > 0 ? tree_cpu_s(db_pid) : -1,
                      .self = self_cpu_s(),
                      .t = now_ns()};
}

/* What was used between two readings (negative: not measured). */
typedef struct cpu_used {
    double wall;
    double server;
    double db;
    double self;
} cpu_used;

static cpu_used cpu_between(const cpu_mark *a, const cpu_mark *b)
{
    return (cpu_used){.wall = (double)(b->t - a->t) / 1e9,
                      .server = a->server >= 0 && b->server >= 0 ? b->server - a->server : -1,
                      .db = a->db >= 0 && b->db >= 0 ? b->db - a->db : -1,
                      .self = b->self - a->self};
}

static double pct(double cpu, double wall)
{
    return cpu >= 0 && wall > 0 ? 100 * cpu / wall : -1;
}

/* ------------------------------------------------------------------------
 * Status accounting, per method
 * ------------------------------------------------------------------------ */

typedef struct tally {
    const char *name;
    atomic_long n[NCODES + 1]; /* the last one: a batch that failed outright */
    pthread_mutex_t mu;
    char detail[NCODES + 1][200]; /* the first details text seen per code */
} tally;

static void tally_init(tally *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    for (int i = 0; i <= NCODES; i++)
        atomic_init(&t->n[i], 0);
    pthread_mutex_init(&t->mu, NULL);
}

static void tally_release(tally *t)
{
    pthread_mutex_destroy(&t->mu);
}

static void tally_note(tally *t, int code, grpc_slice details)
{
    if (code < 0 || code > NCODES)
        code = NCODES;
    if (atomic_fetch_add(&t->n[code], 1) == 0 && code != GRPC_STATUS_OK) {
        pthread_mutex_lock(&t->mu);
        size_t len = GRPC_SLICE_LENGTH(details);
        if (len >= sizeof t->detail[code])
            len = sizeof t->detail[code] - 1;
        memcpy(t->detail[code], GRPC_SLICE_START_PTR(details), len);
        t->detail[code][len] = '\0';
        pthread_mutex_unlock(&t->mu);
    }
}

static long tally_failed(tally *t)
{
    long bad = 0;
    for (int i = 1; i <= NCODES; i++)
        bad += atomic_load(&t->n[i]);
    return bad;
}

/* Prints every non-OK status seen (with the first details text). Returns
 * how many calls were not OK, leaving out CANCELLED when told to (the calls
 * this tool cancels itself at the end of a run). */
static long tally_print(tally *t, bool ignore_cancelled)
{
    long bad = 0;
    for (int i = 1; i <= NCODES; i++) {
        long n = atomic_load(&t->n[i]);
        if (n == 0 || (ignore_cancelled && i == GRPC_STATUS_CANCELLED))
            continue;
        bad += n;
        printf("   %-12s %ld x %s%s%s%s\n", t->name, n,
               i == NCODES ? "batch failed" : code_names[i], t->detail[i][0] != '\0' ? " (\"" : "",
               t->detail[i], t->detail[i][0] != '\0' ? "\")" : "");
    }
    return bad;
}

/* ------------------------------------------------------------------------
 * One unary call: six ops in one batch, answer unpacked with protobuf-c
 * ------------------------------------------------------------------------ */

static grpc_metadata auth_md; /* set once in main before any thread starts */

typedef struct ucall {
    grpc_call *call;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array initial;
    grpc_metadata_array trailing;
    grpc_status_code status;
    grpc_slice details;
    int64_t started_ns;
    long seq; /* cycle: the task's sequence number; idle: unused */
    bool busy;
} ucall;

static grpc_channel *channel_open(const char *target)
{
    /* A local subchannel pool gives every channel its own connection, as
     * separate worker processes would have; retries off, as they buffer
     * every message for a replay this tool never wants. */
    grpc_arg args[2] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, .value.integer = 1},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = 0},
    };
    grpc_channel_args ca = {.num_args = 2, .args = args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &ca);
    grpc_channel_credentials_release(creds);
    return ch;
}

/* Waits until the channel is connected (or the timeout passed). */
static bool channel_connect(grpc_channel *ch, double timeout_s)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_millis((int64_t)(timeout_s * 1000), GPR_TIMESPAN));
    bool ready = false;
    int tag = 0;
    for (;;) {
        grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
        if (st == GRPC_CHANNEL_READY) {
            ready = true;
            break;
        }
        if (st == GRPC_CHANNEL_SHUTDOWN)
            break;
        grpc_channel_watch_connectivity_state(ch, st, deadline, cq, &tag);
        grpc_event ev =
            grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success)
            break; /* the deadline passed */
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_pluck(cq, &tag, gpr_inf_past(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(cq);
    return ready;
}

/* Starts a unary call whose completion arrives on cq with tag u. On false
 * nothing is outstanding and u holds nothing. */
static bool ucall_start(ucall *u, grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                        const ProtobufCMessage *req, int64_t timeout_ms)
{
    u->busy = false;
    u->recv = NULL;
    u->status = GRPC_STATUS_UNKNOWN;
    u->details = grpc_empty_slice();
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_slice path = grpc_slice_from_static_string(method);
    u->call =
        grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline, NULL);
    if (u->call == NULL)
        return false;
    size_t n = protobuf_c_message_get_packed_size(req);
    grpc_slice body = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(body));
    u->send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array_init(&u->initial);
    grpc_metadata_array_init(&u->trailing);

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &auth_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->trailing;
    ops[5].data.recv_status_on_client.status = &u->status;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    u->started_ns = now_ns();
    if (grpc_call_start_batch(u->call, ops, 6, u, NULL) != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(u->send);
        grpc_metadata_array_destroy(&u->initial);
        grpc_metadata_array_destroy(&u->trailing);
        grpc_call_unref(u->call);
        u->call = NULL;
        return false;
    }
    u->busy = true;
    return true;
}

/* The answer of a completed call unpacked (NULL when there is none or it
 * does not parse); free it with protobuf_c_message_free_unpacked. */
static ProtobufCMessage *ucall_answer(ucall *u, const ProtobufCMessageDescriptor *d)
{
    if (u->recv == NULL)
        return NULL;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, u->recv))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&r);
    return m;
}

/* Releases everything of a completed call. */
static void ucall_finish(ucall *u)
{
    if (!u->busy)
        return;
    grpc_byte_buffer_destroy(u->send);
    if (u->recv != NULL)
        grpc_byte_buffer_destroy(u->recv);
    grpc_metadata_array_destroy(&u->initial);
    grpc_metadata_array_destroy(&u->trailing);
    grpc_slice_unref(u->details);
    grpc_call_unref(u->call);
    u->call = NULL;
    u->send = u->recv = NULL;
    u->busy = false;
}

/* One blocking call on a pluck queue. Returns the status (or -1 when the
 * batch could not start or failed); *answer gets the unpacked answer when
 * the status is OK and answer is not NULL. */
static int unary(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
                 ProtobufCMessage **answer, int64_t timeout_ms, tally *t)
{
    ucall u;
    if (answer != NULL)
        *answer = NULL;
    if (!ucall_start(&u, ch, cq, method, req, timeout_ms)) {
        tally_note(t, NCODES, grpc_empty_slice());
        return -1;
    }
    grpc_event ev = grpc_completion_queue_pluck(cq, &u, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    int code = ev.success ? (int)u.status : NCODES;
    tally_note(t, code, u.details);
    if (code == GRPC_STATUS_OK && answer != NULL && d != NULL) {
        *answer = ucall_answer(&u, d);
        if (*answer == NULL)
            code = -1;
    }
    ucall_finish(&u);
    return code;
}

static void cq_close(grpc_completion_queue *cq, bool pluck)
{
    grpc_completion_queue_shutdown(cq);
    for (;;) {
        grpc_event ev =
            pluck ? grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                  : grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
    }
    grpc_completion_queue_destroy(cq);
}

/* ------------------------------------------------------------------------
 * cycle
 * ------------------------------------------------------------------------ */

typedef struct cycle_run {
    const opts *o;
    long n; /* capacity: tasks at most */
    /* Per sequence number. */
    int64_t *submit_ns;    /* SubmitTask sent */
    int64_t *acked_ns;     /* SubmitTask answered OK; 0 = not submitted */
    int64_t *claim_ns;     /* first PollTask that returned it */
    int64_t *done_ns;      /* first CompleteTask answered OK */
    atomic_int *claims;    /* PollTask answers holding it */
    atomic_int *completes; /* CompleteTask OK answers */
    atomic_long next_seq;
    atomic_long submitted_ok;
    atomic_long submit_failed;
    atomic_long completed;       /* distinct tasks completed */
    atomic_long complete_failed; /* CompleteTask answers not OK */
    atomic_long foreign;         /* polled tasks without our sequence number */
    atomic_long polls_empty;
    atomic_long polls_task;
    atomic_long workers_ready;
    atomic_bool workers_failed;
    atomic_bool stop_submit;
    atomic_bool stop_workers;
    int64_t submit_deadline; /* 0 = none */
    tally t_submit, t_poll, t_complete, t_register;
} cycle_run;

typedef struct thread_arg {
    cycle_run *run;
    long index;
} thread_arg;

static bool may_submit(cycle_run *r)
{
    if (atomic_load(&r->stop_submit))
        return false;
    if (r->submit_deadline != 0 && now_ns() >= r->submit_deadline) {
        atomic_store(&r->stop_submit, true);
        return false;
    }
    return true;
}

static bool over_backlog(cycle_run *r)
{
    if (r->o->backlog == 0)
        return false;
    long open = atomic_load(&r->next_seq) - atomic_load(&r->submit_failed) -
                atomic_load(&r->completed) - atomic_load(&r->complete_failed);
    return open >= r->o->backlog;
}

static void *submitter_main(void *arg)
{
    thread_arg *ta = arg;
    cycle_run *r = ta->run;
    const opts *o = r->o;
    grpc_channel *ch = channel_open(o->target);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    ucall *slots = fv_calloc((size_t)o->depth, sizeof *slots);
    char input[96];
    long inflight = 0;
    if (slots == NULL) {
        atomic_store(&r->stop_submit, true);
        goto out;
    }
    channel_connect(ch, 10);
    /* With --submit-rate, each submitter sends its share on a schedule (no
     * burst to catch up when it falls behind). */
    int64_t period =
        o->submit_rate > 0 ? (int64_t)(1e9 * (double)o->submitters / o->submit_rate) : 0;
    int64_t next_slot = now_ns();
    for (;;) {
        /* Fill the window. */
        for (long i = 0; i < o->depth && may_submit(r); i++) {
            if (slots[i].busy)
                continue;
            if (over_backlog(r))
                break;
            if (period > 0) {
                int64_t now = now_ns();
                if (now < next_slot)
                    break;
                next_slot = next_slot + period < now ? now : next_slot + period;
            }
            long seq = atomic_fetch_add(&r->next_seq, 1);
            if (seq >= r->n) {
                atomic_store(&r->stop_submit, true);
                break;
            }
            int len = snprintf(input, sizeof input, "{\"bench_seq\":%ld}", seq);
            Flovyn__V1__SubmitTaskRequest req = FLOVYN__V1__SUBMIT_TASK_REQUEST__INIT;
            req.org_id = (char *)o->org;
            req.kind = (char *)o->kind;
            req.queue = (char *)o->queue;
            req.input.data = (uint8_t *)input;
            req.input.len = (size_t)len;
            slots[i].seq = seq;
            if (!ucall_start(&slots[i], ch, cq, M_SUBMIT, &req.base, 30000)) {
                tally_note(&r->t_submit, NCODES, grpc_empty_slice());
                atomic_fetch_add(&r->submit_failed, 1);
                continue;
            }
            r->submit_ns[seq] = slots[i].started_ns;
            inflight++;
        }
        if (inflight == 0) {
            if (!may_submit(r))
                break;
            if (period > 0 && !over_backlog(r))
                sleep_until_ns(next_slot);
            else
                sleep_ns(100000); /* over the backlog: let the workers catch up */
            continue;
        }
        gpr_timespec until = gpr_inf_future(GPR_CLOCK_REALTIME);
        if (period > 0) {
            int64_t wait = next_slot - now_ns();
            until = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                 gpr_time_from_nanos(wait > 0 ? wait : 0, GPR_TIMESPAN));
        }
        grpc_event ev = grpc_completion_queue_next(cq, until, NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            continue;
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        ucall *u = ev.tag;
        int code = ev.success ? (int)u->status : NCODES;
        tally_note(&r->t_submit, code, u->details);
        bool ok = false;
        if (code == GRPC_STATUS_OK) {
            Flovyn__V1__SubmitTaskResponse *resp = (Flovyn__V1__SubmitTaskResponse *)ucall_answer(
                u, &flovyn__v1__submit_task_response__descriptor);
            ok = resp != NULL && resp->task_execution_id[0] != '\0';
            if (resp != NULL)
                protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
        if (ok) {
            r->acked_ns[u->seq] = now_ns();
            atomic_fetch_add(&r->submitted_ok, 1);
        } else if (atomic_fetch_add(&r->submit_failed, 1) + 1 >= o->max_errors) {
            atomic_store(&r->stop_submit, true);
        }
        ucall_finish(u);
        inflight--;
    }
out:
    fv_free(slots);
    cq_close(cq, false);
    grpc_channel_destroy(ch);
    return NULL;
}

/* The sequence number in a task's input, or -1. */
static long input_seq(const ProtobufCBinaryData *in, long n)
{
    char buf[128];
    size_t len = in->len < sizeof buf - 1 ? in->len : sizeof buf - 1;
    memcpy(buf, in->data, len);
    buf[len] = '\0';
    const char *p = strstr(buf, "\"bench_seq\"");
    if (p == NULL)
        return -1;
    p += strlen("\"bench_seq\"");
    while (*p == ' ' || *p == ':')
        p++;
    char *end = NULL;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno != 0 || end == p || v < 0 || v >= n)
        return -1;
    return v;
}

static void *worker_main(void *arg)
{
    thread_arg *ta = arg;
    cycle_run *r = ta->run;
    const opts *o = r->o;
    grpc_channel *ch = channel_open(o->target);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    char name[64], host[64], pid[32];
    char worker_id[64];
    snprintf(name, sizeof name, "bench-worker-%ld", ta->index);
    snprintf(worker_id, sizeof worker_id, "%s", name);
    if (o->register_workers) {
        snprintf(host, sizeof host, "bench-host");
        snprintf(pid, sizeof pid, "%ld", (long)getpid() * 1000 + ta->index);
        Flovyn__V1__TaskCapability cap = FLOVYN__V1__TASK_CAPABILITY__INIT;
        cap.kind = (char *)o->kind;
        Flovyn__V1__TaskCapability *caps[1] = {&cap};
        Flovyn__V1__WorkerRegistrationRequest reg = FLOVYN__V1__WORKER_REGISTRATION_REQUEST__INIT;
        reg.worker_name = name;
        reg.worker_version = "1.0.0";
        reg.worker_type = "TASK";
        reg.org_id = (char *)o->org;
        reg.host_name = host;
        reg.process_id = pid;
        reg.n_tasks = 1;
        reg.tasks = caps;
        ProtobufCMessage *ans = NULL;
        int code = unary(ch, cq, M_REGISTER, &reg.base,
                         &flovyn__v1__worker_registration_response__descriptor, &ans, 30000,
                         &r->t_register);
        Flovyn__V1__WorkerRegistrationResponse *resp =
            (Flovyn__V1__WorkerRegistrationResponse *)ans;
        if (code != GRPC_STATUS_OK || resp == NULL || !resp->success ||
            resp->worker_id[0] == '\0') {
            atomic_store(&r->workers_failed, true);
        } else {
            snprintf(worker_id, sizeof worker_id, "%s", resp->worker_id);
        }
        if (ans != NULL)
            protobuf_c_message_free_unpacked(ans, NULL);
    } else if (!channel_connect(ch, 10)) {
        atomic_store(&r->workers_failed, true);
    }
    atomic_fetch_add(&r->workers_ready, 1);

    Flovyn__V1__PollTaskRequest poll = FLOVYN__V1__POLL_TASK_REQUEST__INIT;
    poll.worker_id = worker_id;
    poll.org_id = (char *)o->org;
    poll.queue = (char *)o->queue;
    poll.timeout_seconds = o->poll_timeout;
    static const char output[] = "{\"ok\":true}";
    while (!atomic_load(&r->stop_workers)) {
        ProtobufCMessage *ans = NULL;
        int code = unary(ch, cq, M_POLL, &poll.base, &flovyn__v1__poll_task_response__descriptor,
                         &ans, o->poll_timeout * 1000 + 10000, &r->t_poll);
        if (code != GRPC_STATUS_OK) {
            sleep_ns(10000000); /* as the Python SDK does after an error */
            continue;
        }
        Flovyn__V1__PollTaskResponse *resp = (Flovyn__V1__PollTaskResponse *)ans;
        if (resp->task == NULL) {
            atomic_fetch_add(&r->polls_empty, 1);
            protobuf_c_message_free_unpacked(ans, NULL);
            continue;
        }
        int64_t claimed = now_ns();
        atomic_fetch_add(&r->polls_task, 1);
        long seq = input_seq(&resp->task->input, r->n);
        if (seq < 0)
            atomic_fetch_add(&r->foreign, 1);
        else if (atomic_fetch_add(&r->claims[seq], 1) == 0)
            r->claim_ns[seq] = claimed;
        Flovyn__V1__CompleteTaskRequest done = FLOVYN__V1__COMPLETE_TASK_REQUEST__INIT;
        done.task_execution_id = resp->task->task_execution_id;
        done.output.data = (uint8_t *)output;
        done.output.len = sizeof output - 1;
        code = unary(ch, cq, M_COMPLETE, &done.base, NULL, NULL, 30000, &r->t_complete);
        protobuf_c_message_free_unpacked(ans, NULL);
        if (code != GRPC_STATUS_OK) {
            atomic_fetch_add(&r->complete_failed, 1);
            continue;
        }
        if (seq >= 0 && atomic_fetch_add(&r->completes[seq], 1) == 0) {
            r->done_ns[seq] = now_ns();
            atomic_fetch_add(&r->completed, 1);
        }
    }
    cq_close(cq, true);
    grpc_channel_destroy(ch);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of an ascending array, in ms. */
static double pct_ms(const int64_t *v, long n, double p)
{
    if (n == 0)
        return 0;
    long k = (long)(p / 100.0 * (double)n + 0.5);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e6;
}

static int run_cycle(const opts *o)
{
    int rc = 2;
    cycle_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.n = o->tasks;
    atomic_init(&r.next_seq, 0);
    atomic_init(&r.submitted_ok, 0);
    atomic_init(&r.submit_failed, 0);
    atomic_init(&r.completed, 0);
    atomic_init(&r.complete_failed, 0);
    atomic_init(&r.foreign, 0);
    atomic_init(&r.polls_empty, 0);
    atomic_init(&r.polls_task, 0);
    atomic_init(&r.workers_ready, 0);
    atomic_init(&r.workers_failed, false);
    atomic_init(&r.stop_submit, false);
    atomic_init(&r.stop_workers, false);
    tally_init(&r.t_submit, "SubmitTask");
    tally_init(&r.t_poll, "PollTask");
    tally_init(&r.t_complete, "CompleteTask");
    tally_init(&r.t_register, "Register");
    size_t n = (size_t)r.n;
    r.submit_ns = fv_calloc(n, sizeof *r.submit_ns);
    r.acked_ns = fv_calloc(n, sizeof *r.acked_ns);
    r.claim_ns = fv_calloc(n, sizeof *r.claim_ns);
    r.done_ns = fv_calloc(n, sizeof *r.done_ns);
    r.claims = fv_calloc(n, sizeof *r.claims);
    r.completes = fv_calloc(n, sizeof *r.completes);
    int64_t *lat = fv_calloc(n, sizeof *lat);
    int64_t *lat_claim = fv_calloc(n, sizeof *lat_claim);
    int64_t *lat_submit = fv_calloc(n, sizeof *lat_submit);
    pthread_t *workers = fv_calloc((size_t)o->workers, sizeof *workers);
    pthread_t *submitters = fv_calloc((size_t)o->submitters, sizeof *submitters);
    thread_arg *wargs = fv_calloc((size_t)o->workers, sizeof *wargs);
    thread_arg *sargs = fv_calloc((size_t)o->submitters, sizeof *sargs);
    long nw = 0, ns = 0;
    bool setup_failed = false;
    int64_t t_start = 0, t_end = 0;
    cpu_mark m0 = {0}, m1 = {0};
    if (r.submit_ns == NULL || r.acked_ns == NULL || r.claim_ns == NULL || r.done_ns == NULL ||
        r.claims == NULL || r.completes == NULL || lat == NULL || lat_claim == NULL ||
        lat_submit == NULL || workers == NULL || submitters == NULL || wargs == NULL ||
        sargs == NULL) {
        fprintf(stderr, "bench_task_load: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        atomic_init(&r.claims[i], 0);
        atomic_init(&r.completes[i], 0);
    }

    /* Workers first: registered and polling before the first submit. */
    for (; nw < o->workers; nw++) {
        wargs[nw] = (thread_arg){.run = &r, .index = nw};
        if (pthread_create(&workers[nw], NULL, worker_main, &wargs[nw]) != 0)
            break;
    }
    while (atomic_load(&r.workers_ready) < nw)
        sleep_ns(1000000);
    if (nw < o->workers || atomic_load(&r.workers_failed)) {
        fprintf(stderr, "bench_task_load: %ld of %ld workers could not start or register\n",
                o->workers - nw + (atomic_load(&r.workers_failed) ? 1 : 0), o->workers);
        tally_print(&r.t_register, false);
        setup_failed = true;
        goto join;
    }
    sleep_ns(100000000); /* let the first polls reach the server */

    m0 = cpu_take(o->pid, o->db_pid);
    t_start = m0.t;
    if (o->seconds > 0)
        r.submit_deadline = t_start + (int64_t)(o->seconds * 1e9);
    for (; ns < o->submitters; ns++) {
        sargs[ns] = (thread_arg){.run = &r, .index = ns};
        if (pthread_create(&submitters[ns], NULL, submitter_main, &sargs[ns]) != 0)
            break;
    }
    for (long i = 0; i < ns; i++)
        pthread_join(submitters[i], NULL);
    ns = 0;

    /* Wait for the workers to complete what was submitted. */
    long last = -1;
    int64_t last_progress = now_ns();
    for (;;) {
        long done = atomic_load(&r.completed) + atomic_load(&r.complete_failed);
        if (done >= atomic_load(&r.submitted_ok))
            break;
        if (done != last) {
            last = done;
            last_progress = now_ns();
        } else if (now_ns() - last_progress > (int64_t)(o->drain * 1e9)) {
            break;
        }
        sleep_ns(2000000);
    }
    m1 = cpu_take(o->pid, o->db_pid);
    t_end = m1.t;

join:
    atomic_store(&r.stop_workers, true);
    for (long i = 0; i < nw; i++)
        pthread_join(workers[i], NULL);
    nw = 0;
    if (setup_failed)
        goto out;

    /* Checks and figures. */
    long submitted = 0, completed = 0, missing = 0, twice = 0, claimed_twice = 0;
    int64_t first_submit = INT64_MAX, last_done = 0, last_ack = 0;
    long nl = 0, nc = 0, nsub = 0;
    for (long i = 0; i < r.n; i++) {
        if (r.acked_ns[i] == 0)
            continue;
        submitted++;
        if (r.submit_ns[i] < first_submit)
            first_submit = r.submit_ns[i];
        if (r.acked_ns[i] > last_ack)
            last_ack = r.acked_ns[i];
        lat_submit[nsub++] = r.acked_ns[i] - r.submit_ns[i];
        int c = atomic_load(&r.completes[i]);
        if (atomic_load(&r.claims[i]) > 1)
            claimed_twice++;
        if (c == 0) {
            missing++;
            continue;
        }
        completed++;
        if (c > 1)
            twice++;
        if (r.done_ns[i] > last_done)
            last_done = r.done_ns[i];
        lat[nl++] = r.done_ns[i] - r.submit_ns[i];
        if (r.claim_ns[i] != 0)
            lat_claim[nc++] = r.claim_ns[i] - r.submit_ns[i];
    }
    qsort(lat, (size_t)nl, sizeof *lat, cmp_i64);
    qsort(lat_claim, (size_t)nc, sizeof *lat_claim, cmp_i64);
    qsort(lat_submit, (size_t)nsub, sizeof *lat_submit, cmp_i64);
    double span = completed > 0 ? (double)(last_done - first_submit) / 1e9 : 0;
    double sub_span = submitted > 0 ? (double)(last_ack - first_submit) / 1e9 : 0;
    double jobs = span > 0 ? (double)completed / span : 0;
    double subs = sub_span > 0 ? (double)submitted / sub_span : 0;
    cpu_used cu = cpu_between(&m0, &m1);
    double wall = (double)(t_end - t_start) / 1e9;

    printf("cycle: %ld submitters x %ld in flight, %ld workers (PollTask timeout %ld s, %s), "
           "queue \"%s\", backlog cap %ld",
           o->submitters, o->depth, o->workers, o->poll_timeout,
           o->register_workers ? "registered" : "unregistered names", o->queue, o->backlog);
    if (o->submit_rate > 0)
        printf(", %.0f submits/s in all", o->submit_rate);
    printf("\n");
    printf("   submitted %ld (SubmitTask OK), completed %ld (CompleteTask OK), "
           "never completed %ld, completed twice %ld, claimed twice %ld, foreign %ld\n",
           submitted, completed, missing, twice, claimed_twice, atomic_load(&r.foreign));
    printf("   jobs/s end to end   %9.0f  (%ld in %.3f s, first submit to last completion)\n", jobs,
           completed, span);
    printf("   SubmitTask/s        %9.0f  (call latency p50 %.2f ms, p99 %.2f ms)\n", subs,
           pct_ms(lat_submit, nsub, 50), pct_ms(lat_submit, nsub, 99));
    printf("   submit->claim       p50 %.2f ms  p99 %.2f ms\n", pct_ms(lat_claim, nc, 50),
           pct_ms(lat_claim, nc, 99));
    printf("   submit->completion  p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", pct_ms(lat, nl, 50),
           pct_ms(lat, nl, 99), nl > 0 ? (double)lat[nl - 1] / 1e6 : 0.0);
    printf("   polls: %ld with a task, %ld empty\n", atomic_load(&r.polls_task),
           atomic_load(&r.polls_empty));
    if (cu.server >= 0)
        printf("   server CPU          %.2f s over %.2f s (%.0f%% of one core, %.1f us per job)\n",
               cu.server, wall, pct(cu.server, wall),
               completed > 0 ? cu.server * 1e6 / (double)completed : 0.0);
    if (cu.db >= 0)
        printf("   database CPU        %.2f s (%.0f%% of one core, %.1f us per job)\n", cu.db,
               pct(cu.db, wall), completed > 0 ? cu.db * 1e6 / (double)completed : 0.0);
    printf("   this tool's CPU     %.2f s (%.0f%% of one core)\n", cu.self, pct(cu.self, wall));
    long bad = tally_print(&r.t_submit, false) + tally_print(&r.t_poll, false) +
               tally_print(&r.t_complete, false) + tally_print(&r.t_register, false);
    printf("result mode=cycle submitted=%ld completed=%ld missing=%ld twice=%ld "
           "claimed_twice=%ld errors=%ld seconds=%.3f jobs_per_s=%.1f submit_per_s=%.1f "
           "p50_ms=%.3f p99_ms=%.3f claim_p50_ms=%.3f claim_p99_ms=%.3f server_cpu_s=%.3f "
           "db_cpu_s=%.3f tool_cpu_s=%.3f wall_s=%.3f\n",
           submitted, completed, missing, twice, claimed_twice, bad, span, jobs, subs,
           pct_ms(lat, nl, 50), pct_ms(lat, nl, 99), pct_ms(lat_claim, nc, 50),
           pct_ms(lat_claim, nc, 99), cu.server, cu.db, cu.self, wall);
    fflush(stdout);
    rc = (missing == 0 && twice == 0 && bad == 0 && submitted > 0 && atomic_load(&r.foreign) == 0)
             ? 0
             : 1;

out:
    atomic_store(&r.stop_submit, true);
    atomic_store(&r.stop_workers, true);
    for (long i = 0; i < ns; i++)
        pthread_join(submitters[i], NULL);
    for (long i = 0; i < nw; i++)
        pthread_join(workers[i], NULL);
    fv_free(r.submit_ns);
    fv_free(r.acked_ns);
    fv_free(r.claim_ns);
    fv_free(r.done_ns);
    fv_free(r.claims);
    fv_free(r.completes);
    fv_free(lat);
    fv_free(lat_claim);
    fv_free(lat_submit);
    fv_free(workers);
    fv_free(submitters);
    fv_free(wargs);
    fv_free(sargs);
    tally_release(&r.t_submit);
    tally_release(&r.t_poll);
    tally_release(&r.t_complete);
    tally_release(&r.t_register);
    return rc;
}

/* ------------------------------------------------------------------------
 * idle
 * ------------------------------------------------------------------------ */

typedef struct idle_run {
    const opts *o;
    atomic_bool stop;
    atomic_bool counting; /* inside the measured window */
    atomic_long ready;
    atomic_long polls;      /* answered inside the window */
    atomic_long with_task;  /* answers holding a task (the queue should be empty) */
    atomic_long rtt_ns_sum; /* of the polls answered inside the window */
    atomic_long late;       /* paced polls that started behind their slot */
    tally t_poll;
} idle_run;

typedef struct idle_thread {
    idle_run *run;
    long index;
} idle_thread;

static void idle_note(idle_run *r, ucall *u, int code)
{
    tally_note(&r->t_poll, code, u->details);
    if (code != GRPC_STATUS_OK)
        return;
    Flovyn__V1__PollTaskResponse *resp = (Flovyn__V1__PollTaskResponse *)ucall_answer(
        u, &flovyn__v1__poll_task_response__descriptor);
    if (resp != NULL && resp->task != NULL)
        atomic_fetch_add(&r->with_task, 1);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    if (atomic_load(&r->counting)) {
        atomic_fetch_add(&r->polls, 1);
        atomic_fetch_add(&r->rtt_ns_sum, (long)(now_ns() - u->started_ns));
    }
}

static void idle_request(const opts *o, Flovyn__V1__PollTaskRequest *req, char *name, size_t cap,
                         long index, long timeout)
{
    snprintf(name, cap, "bench-idle-%ld", index);
    Flovyn__V1__PollTaskRequest init = FLOVYN__V1__POLL_TASK_REQUEST__INIT;
    *req = init;
    req->worker_id = name;
    req->org_id = (char *)o->org;
    req->queue = (char *)o->queue;
    req->timeout_seconds = timeout;
}

/* Paced: one thread per poller, PollTask(timeout 0) at the rate. */
static void *paced_main(void *arg)
{
    idle_thread *it = arg;
    idle_run *r = it->run;
    const opts *o = r->o;
    grpc_channel *ch = channel_open(o->target);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    char name[64];
    Flovyn__V1__PollTaskRequest req;
    idle_request(o, &req, name, sizeof name, it->index, 0);
    channel_connect(ch, 10);
    atomic_fetch_add(&r->ready, 1);
    int64_t period = (int64_t)(1e9 / o->rate);
    int64_t next = now_ns();
    while (!atomic_load(&r->stop)) {
        ucall u;
        if (!ucall_start(&u, ch, cq, M_POLL, &req.base, 10000)) {
            tally_note(&r->t_poll, NCODES, grpc_empty_slice());
        } else {
            grpc_event ev =
                grpc_completion_queue_pluck(cq, &u, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            idle_note(r, &u, ev.success ? (int)u.status : NCODES);
            ucall_finish(&u);
        }
        next += period;
        int64_t now = now_ns();
        if (next < now) {
            if (atomic_load(&r->counting))
                atomic_fetch_add(&r->late, 1);
            next = now; /* behind: no burst to catch up */
        }
        sleep_until_ns(next);
    }
    cq_close(cq, true);
    grpc_channel_destroy(ch);
    return NULL;
}

static int run_idle(const opts *o)
{
    idle_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    atomic_init(&r.stop, false);
    atomic_init(&r.counting, false);
    atomic_init(&r.ready, 0);
    atomic_init(&r.polls, 0);
    atomic_init(&r.with_task, 0);
    atomic_init(&r.rtt_ns_sum, 0);
    atomic_init(&r.late, 0);
    tally_init(&r.t_poll, "PollTask");
    bool parked = o->rate <= 0;
    long p = o->pollers;
    int rc = 2;
    cpu_mark m0 = {0}, m1 = {0};
    long cancelled_at_end = 0;

    grpc_channel **chans = NULL;
    ucall *slots = NULL;
    grpc_completion_queue *cq = NULL;
    Flovyn__V1__PollTaskRequest *reqs = NULL;
    char(*names)[64] = NULL;
    int64_t *retry_at = NULL;
    pthread_t *threads = NULL;
    idle_thread *targs = NULL;
    long started = 0;

    if (parked) {
        /* One thread drives every parked call on one queue; each poller has
         * a channel of its own. */
        chans = fv_calloc((size_t)p, sizeof *chans);
        slots = fv_calloc((size_t)p, sizeof *slots);
        reqs = fv_calloc((size_t)p, sizeof *reqs);
        names = fv_calloc((size_t)p, sizeof *names);
        retry_at = fv_calloc((size_t)p, sizeof *retry_at);
        if (chans == NULL || slots == NULL || reqs == NULL || names == NULL || retry_at == NULL)
            goto out;
        cq = grpc_completion_queue_create_for_next(NULL);
        for (long i = 0; i < p; i++) {
            chans[i] = channel_open(o->target);
            idle_request(o, &reqs[i], names[i], sizeof names[i], i, o->poll_timeout);
        }
        for (long i = 0; i < p; i++)
            channel_connect(chans[i], 10);
        long inflight = 0, waiting = 0;
        for (long i = 0; i < p; i++) {
            if (ucall_start(&slots[i], chans[i], cq, M_POLL, &reqs[i].base,
                            o->poll_timeout * 1000 + 10000))
                inflight++;
            else
                tally_note(&r.t_poll, NCODES, grpc_empty_slice());
        }
        int64_t t_warm = now_ns() + (int64_t)(o->warmup * 1e9);
        int64_t t_begin = 0, t_stop = 0;
        bool stopping = false;
        while (inflight > 0 || waiting > 0) {
            int64_t now = now_ns();
            if (t_begin == 0 && now >= t_warm) {
                m0 = cpu_take(o->pid, o->db_pid);
                t_begin = m0.t;
                t_stop = t_begin + (int64_t)(o->seconds * 1e9);
                atomic_store(&r.counting, true);
            }
            if (t_begin != 0 && !stopping && now >= t_stop) {
                m1 = cpu_take(o->pid, o->db_pid);
                atomic_store(&r.counting, false);
                stopping = true;
                for (long i = 0; i < p; i++)
                    if (slots[i].busy)
                        grpc_call_cancel(slots[i].call, NULL);
            }
            /* Pollers that got an error poll again 100 ms later (no busy
             * loop against a server that refuses them). */
            int64_t until = t_begin == 0 ? t_warm : stopping ? now + 1000000000 : t_stop;
            for (long i = 0; i < p && !stopping; i++) {
                if (retry_at[i] == 0)
                    continue;
                if (retry_at[i] <= now) {
                    retry_at[i] = 0;
                    waiting--;
                    if (ucall_start(&slots[i], chans[i], cq, M_POLL, &reqs[i].base,
                                    o->poll_timeout * 1000 + 10000))
                        inflight++;
                    else
                        tally_note(&r.t_poll, NCODES, grpc_empty_slice());
                } else if (retry_at[i] < until) {
                    until = retry_at[i];
                }
            }
            if (stopping)
                waiting = 0;
            gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                           gpr_time_from_nanos(until - now, GPR_TIMESPAN));
            grpc_event ev = grpc_completion_queue_next(cq, dl, NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                continue;
            ucall *u = ev.tag;
            int code = ev.success ? (int)u->status : NCODES;
            if (stopping && code == GRPC_STATUS_CANCELLED)
                cancelled_at_end++;
            idle_note(&r, u, code);
            long i = u - slots;
            ucall_finish(u);
            inflight--;
            if (!stopping && code != GRPC_STATUS_OK) {
                retry_at[i] = now_ns() + 100000000;
                waiting++;
            } else if (!stopping) {
                if (ucall_start(u, chans[i], cq, M_POLL, &reqs[i].base,
                                o->poll_timeout * 1000 + 10000))
                    inflight++;
                else
                    tally_note(&r.t_poll, NCODES, grpc_empty_slice());
            }
        }
    } else {
        threads = fv_calloc((size_t)p, sizeof *threads);
        targs = fv_calloc((size_t)p, sizeof *targs);
        if (threads == NULL || targs == NULL)
            goto out;
        for (; started < p; started++) {
            targs[started] = (idle_thread){.run = &r, .index = started};
            if (pthread_create(&threads[started], NULL, paced_main, &targs[started]) != 0)
                break;
        }
        while (atomic_load(&r.ready) < started)
            sleep_ns(1000000);
        sleep_ns((int64_t)(o->warmup * 1e9));
        m0 = cpu_take(o->pid, o->db_pid);
        atomic_store(&r.counting, true);
        sleep_ns((int64_t)(o->seconds * 1e9));
        atomic_store(&r.counting, false);
        m1 = cpu_take(o->pid, o->db_pid);
    }

    long polls = atomic_load(&r.polls);
    if (m1.t == 0)
        m1 = m0; /* every poller failed before the window ended */
    cpu_used cu = cpu_between(&m0, &m1);
    double wall = cu.wall;
    if (!o->quiet) {
        if (parked)
            printf("idle: %ld parked pollers (PollTask timeout %ld s, a connection each), "
                   "%.1f s window after %.1f s warm-up\n",
                   p, o->poll_timeout, wall, o->warmup);
        else
            printf("idle: %ld poller(s) at %.0f PollTask(timeout 0)/s each, %.1f s window\n", p,
                   o->rate, wall);
        printf("   polls answered in the window %ld (%.1f/s, mean %.2f ms each)%s\n", polls,
               wall > 0 ? (double)polls / wall : 0.0,
               polls > 0 ? (double)atomic_load(&r.rtt_ns_sum) / (double)polls / 1e6 : 0.0,
               parked ? "" : "");
        if (!parked && atomic_load(&r.late) > 0)
            printf("   %ld polls started behind their slot\n", atomic_load(&r.late));
        if (cu.server >= 0)
            printf("   server CPU   %.3f s over %.1f s = %.2f%% of one core\n", cu.server, wall,
                   pct(cu.server, wall));
        if (cu.db >= 0)
            printf("   database CPU %.3f s = %.2f%% of one core\n", cu.db, pct(cu.db, wall));
        printf("   this tool's CPU %.3f s (%.2f%% of one core)\n", cu.self, pct(cu.self, wall));
        if (atomic_load(&r.with_task) > 0)
            printf("   %ld answers held a task (the queue was meant to be empty)\n",
                   atomic_load(&r.with_task));
        if (parked)
            printf("   %ld parked polls cancelled by this tool at the end\n", cancelled_at_end);
    }
    long bad = o->quiet ? tally_failed(&r.t_poll) -
                              (parked ? atomic_load(&r.t_poll.n[GRPC_STATUS_CANCELLED]) : 0)
                        : tally_print(&r.t_poll, parked);
    printf("result mode=idle parked=%d pollers=%ld rate=%.1f wall_s=%.3f polls=%ld "
           "polls_per_s=%.1f server_cpu_s=%.3f server_cpu_pct=%.3f db_cpu_s=%.3f db_cpu_pct=%.3f "
           "tool_cpu_s=%.3f errors=%ld with_task=%ld\n",
           parked ? 1 : 0, p, o->rate, wall, polls, wall > 0 ? (double)polls / wall : 0.0,
           cu.server, pct(cu.server, wall), cu.db, pct(cu.db, wall), cu.self, bad,
           atomic_load(&r.with_task));
    fflush(stdout);
    rc = bad == 0 && atomic_load(&r.with_task) == 0 ? 0 : 1;

out:
    atomic_store(&r.stop, true);
    for (long i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (cq != NULL)
        cq_close(cq, false);
    if (chans != NULL)
        for (long i = 0; i < p; i++)
            if (chans[i] != NULL)
                grpc_channel_destroy(chans[i]);
    fv_free(chans);
    fv_free(slots);
    fv_free(reqs);
    fv_free(names);
    fv_free(retry_at);
    fv_free(threads);
    fv_free(targs);
    tally_release(&r.t_poll);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("bench_task_load: the TaskExecution load generator of bench/task_bench.py "
               "(which starts a server); `bench_task_load --help` for its options\n");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    opts o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    char bearer[512];
    if ((size_t)snprintf(bearer, sizeof bearer, "Bearer %s", o.key) >= sizeof bearer) {
        fprintf(stderr, "bench_task_load: --key too long\n");
        return 2;
    }
    grpc_init();
    auth_md.key = grpc_slice_from_static_string("authorization");
    auth_md.value = grpc_slice_from_copied_string(bearer);
    int rc = strcmp(o.mode, "cycle") == 0 ? run_cycle(&o) : run_idle(&o);
    grpc_slice_unref(auth_md.value);
    grpc_shutdown_blocking();
    return rc;
}
