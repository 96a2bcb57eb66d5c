/*
 * Internals shared by the files of the port contract suite: the per-test
 * fixture, fixed ids and times, a registration builder, read helpers and a
 * snapshot of everything the ports can observe (to prove that a failed op
 * changed nothing). Only tests/support/contract_*.c include this.
 *
 * CUnit test functions take no argument, so the fixture is one static
 * object (`ct`), rebuilt before every test and torn down after it.
 */
#ifndef FV_TESTS_SUPPORT_CONTRACT_INT_H
#define FV_TESTS_SUPPORT_CONTRACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/deps.h"
#include "core/util/arena.h"
#include "tests/support/contract.h"
#include "tests/support/cunit_main.h"

/* 2026-01-01T00:00:00Z: every test time is an offset from it. */
#define CT_T0 ((fv_time)1767225600000)

/* Fixed ids: kind byte first (so different kinds never collide), then n. */
enum {
    CT_K_TENANT = 0x10,
    CT_K_SPACE = 0x20,
    CT_K_WORKER = 0x30,
    CT_K_DEF = 0x40,
    CT_K_KEY = 0x50,
    CT_K_FRESH = 0x60, /* ids handed out by ct_fresh_id() */
    CT_K_OTHER = 0x70, /* ids nobody stores */
};

typedef struct ct_fixture {
    const fv_contract_adapter *adapter;
    void *ctx;
    fv_deps d;
    fv_arena a;    /* the test's arena, released after the test */
    fv_liveness l; /* FV_LIVENESS_DEFAULTS: degraded after 45 s, offline after 60 s */
    uint32_t seq;  /* counter behind ct_fresh_id */
    /* Two tenants and two spaces of T1, created before each test. */
    fv_uuid t1, t2, s1, s2;
} ct_fixture;

extern ct_fixture ct;

/* Set the adapter of the run; open/close one fixture (0 = ready). */
void ct_set_adapter(const fv_contract_adapter *adapter);
int ct_setup(void);
void ct_teardown(void);

fv_uuid ct_uuid(unsigned kind, uint32_t n);
/* A new id never returned before in this test. */
fv_uuid ct_fresh_id(void);

/* Space selectors and optional spaces. */
fv_space_sel ct_sel_none(void);
fv_space_sel ct_sel_any(void);
fv_space_sel ct_sel_id(const fv_uuid *space);
fv_opt_uuid ct_space(const fv_uuid *space); /* NULL = tenant level */

/* JSON text from a C string (NULL = absent). */
fv_json ct_json(const char *s);
bool ct_json_eq(fv_json j, const char *s); /* s == NULL: j must be absent */

/* Let buffered heartbeats become visible (the adapter's optional flush). */
void ct_flush(void);

/* ------------------------------------------------------------------------
 * Registration builder: a valid, normalised fv_registration as the core
 * would hand it to the port.
 */
#define CT_CAPS_MAX 16

typedef struct ct_reg {
    fv_registration r;
    fv_capability wf[CT_CAPS_MAX];
    fv_uuid wf_ids[CT_CAPS_MAX];
    fv_capability tk[CT_CAPS_MAX];
    fv_uuid tk_ids[CT_CAPS_MAX];
} ct_reg;

/*
 * A UNIFIED worker of `tenant` at the tenant level with a fresh id, version
 * "1.0.0", metadata {"team":"core"}, status ONLINE and every time = now;
 * host/pid may be NULL (not given). No capabilities yet.
 */
void ct_reg_init(ct_reg *g, const fv_uuid *tenant, const char *name, const char *host,
                 const char *pid, fv_time now);
/* A workflow capability (name = kind, no optional field) with a fresh
 * definition id; version/hash may be NULL. Returns it for further changes. */
fv_capability *ct_reg_workflow(ct_reg *g, const char *kind, const char *version,
                               const char *content_hash);
fv_capability *ct_reg_task(ct_reg *g, const char *kind);

/* Call the port with the test's arena; returns its code. */
fv_err ct_register(ct_reg *g, fv_registration_outcome *out);
/* Register and assert success (fatal); returns the worker id. */
fv_uuid ct_register_ok(ct_reg *g);

/* Shorthand: register worker `name` (host "h", pid) with workflow kinds and
 * task kinds given as NULL-terminated arrays (either may be NULL). */
fv_uuid ct_worker(const fv_uuid *tenant, const fv_uuid *space, const char *name, const char *pid,
                  fv_time now, const char *const *workflows, const char *const *tasks);

/* ------------------------------------------------------------------------
 * Read helpers (all in the test's arena).
 */
fv_worker ct_get_worker(const fv_uuid *tenant, const fv_uuid *id); /* fatal unless found */
fv_definition_repo ct_defs(fv_def_class cls);
/* get with a tenant-level (space == NULL) or space selector at `now`. */
fv_err ct_get_def(fv_def_class cls, const fv_uuid *tenant, const fv_uuid *space, const char *kind,
                  fv_time now, fv_definition *out);
fv_definition ct_get_def_ok(fv_def_class cls, const fv_uuid *tenant, const fv_uuid *space,
                            const char *kind, fv_time now);
/* Every matching worker / definition (pages through the list). */
fv_worker_list ct_list_workers(const fv_worker_filter *f, fv_time now);
fv_definition_list ct_list_defs(fv_def_class cls, const fv_definition_filter *f, fv_time now);
fv_worker_filter ct_worker_filter(const fv_uuid *tenant);
fv_definition_filter ct_def_filter(const fv_uuid *tenant);
/* Number of status changes recorded for a worker (fatal unless found). */
size_t ct_history_len(const fv_uuid *tenant, const fv_uuid *id);
/* True when the list holds a worker with this id. */
bool ct_has_worker(const fv_worker_list *l, const fv_uuid *id);
bool ct_has_uuid(const fv_uuid *v, size_t n, const fv_uuid *id);
/* Transition and assert it changed. */
void ct_transition_ok(const fv_uuid *tenant, const fv_uuid *id, fv_worker_status from,
                      fv_worker_status to, fv_time now, const char *reason);
/* Tags equal to a NULL-terminated list (order kept). */
bool ct_tags_eq(const fv_tags *t, const char *const *want);

/* ------------------------------------------------------------------------
 * Snapshot: every observable fact of both tenants (workers with their
 * capabilities and status history, definitions of both classes with their
 * links, stored availability as seen by refresh, spaces and API keys) as
 * one string in the test's arena. Runs with failure injection off. Two equal
 * snapshots mean the store did not change.
 */
char *ct_snapshot(fv_time now);

/* Growing text in the test's arena, for snapshots. */
typedef struct ct_sbuf {
    char *p; /* NUL-terminated once anything was added; NULL before */
    size_t n, cap;
} ct_sbuf;
void ct_sb_printf(ct_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append " what=<json>", or " what=(none)" for a missing value. */
void ct_sb_json(ct_sbuf *b, const char *what, fv_json j);

/*
 * Failure injection against a snapshot (contract_atomic.c). An op runs with
 * the test's own arena `a`; snap(user) returns a snapshot in the test's
 * arena. ct_fail_loop runs op with allocation number n failing, n = 0, 1,
 * ..., until it succeeds: every failure must be FV_E_EXHAUSTED and leave the
 * snapshot unchanged, the success must change it; `allocates`: the op
 * cannot succeed without allocating (so attempt 0 must fail). ct_cap_loop
 * does the same with the op's arena capped at 1, 33, 65, ... bytes (attempt
 * one must fail: the op answers in the arena).
 */
typedef fv_err (*ct_op_fn)(fv_arena *a, void *arg);
typedef char *(*ct_snapshot_fn)(void *user);
void ct_fail_loop(const char *what, ct_op_fn op, void *arg, ct_snapshot_fn snap, void *user,
                  bool allocates);
void ct_cap_loop(const char *what, ct_op_fn op, void *arg, ct_snapshot_fn snap, void *user);

/* The per-file case tables, registered by contract.c. */
extern const fv_test_case ct_worker_cases[];
extern const size_t ct_worker_cases_n;
extern const fv_test_case ct_definition_cases[];
extern const size_t ct_definition_cases_n;
extern const fv_test_case ct_heartbeat_cases[];
extern const size_t ct_heartbeat_cases_n;
extern const fv_test_case ct_tenant_cases[];
extern const size_t ct_tenant_cases_n;
extern const fv_test_case ct_atomic_cases[];
extern const size_t ct_atomic_cases_n;
/* Task repository and event bus (contract_task.c); their fixture is
 * ct_task_setup: ct_setup, then the adapter must have opened deps->tasks and
 * deps->bus with every op set. */
int ct_task_setup(void);
extern const fv_test_case ct_task_cases[];
extern const size_t ct_task_cases_n;
extern const fv_test_case ct_bus_cases[];
extern const size_t ct_bus_cases_n;
extern const fv_test_case ct_task_atomic_cases[];
extern const size_t ct_task_atomic_cases_n;

#endif
