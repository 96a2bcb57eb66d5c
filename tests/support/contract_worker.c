/* Contract of the worker repository port (ports/worker_repo.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC ((fv_time)1000)

static const fv_uuid *no_space = NULL;

/* Registration creates a worker row with every declared field. */
static void test_worker_repo__register_creates_worker(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "101", CT_T0);
    g.r.worker.type = FV_WORKER_WORKFLOW;
    ct_reg_workflow(&g, "order", "1.0.0", "h1");
    ct_reg_workflow(&g, "refund", "2.0.0", NULL);
    ct_reg_task(&g, "send-mail");
    fv_uuid want_id = g.r.worker.id;
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &want_id));

    fv_worker w = ct_get_worker(&ct.t1, &want_id);
    CU_ASSERT(fv_uuid_eq(&w.id, &want_id));
    CU_ASSERT(fv_uuid_eq(&w.tenant_id, &ct.t1));
    CU_ASSERT(!w.space.has);
    FV_ASSERT_STR_EQ(w.name, "billing");
    FV_ASSERT_STR_EQ(w.version, "1.0.0");
    FV_ASSERT_INT_EQ(w.type, FV_WORKER_WORKFLOW);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_STR_EQ(w.host_name, "host-a");
    FV_ASSERT_STR_EQ(w.process_id, "101");
    FV_ASSERT_INT_EQ(w.registered_at, CT_T0);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0);
    FV_ASSERT_INT_EQ(w.last_seen_at, CT_T0);
    CU_ASSERT(ct_json_eq(w.metadata, "{\"team\":\"core\"}"));
    CU_ASSERT(ct_json_eq(w.health_info, NULL));
    CU_ASSERT(!w.health_degraded);
    FV_ASSERT_INT_EQ(w.workflow_kinds, 2);
    FV_ASSERT_INT_EQ(w.task_kinds, 1);
}

/* Optional fields not given stay NULL / absent. */
static void test_worker_repo__register_keeps_absent_fields_absent(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "bare", NULL, NULL, CT_T0);
    g.r.worker.version = NULL;
    g.r.worker.metadata = FV_JSON_NONE;
    fv_uuid id = ct_register_ok(&g);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    CU_ASSERT_PTR_NULL(w.version);
    CU_ASSERT_PTR_NULL(w.host_name);
    CU_ASSERT_PTR_NULL(w.process_id);
    CU_ASSERT(ct_json_eq(w.metadata, NULL));
    FV_ASSERT_INT_EQ(w.workflow_kinds, 0);
    FV_ASSERT_INT_EQ(w.task_kinds, 0);
}

/* Decision 5: the same process registering again keeps its id; the declared
 * fields and times are those of the latest registration. */
static void test_worker_repo__same_identity_keeps_id(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "101", CT_T0);
    ct_reg_workflow(&g, "order", "1.0.0", NULL);
    fv_uuid first = ct_register_ok(&g);

    ct_reg g2;
    ct_reg_init(&g2, &ct.t1, "billing", "host-a", "101", CT_T0 + 10 * SEC);
    g2.r.worker.version = "2.0.0";
    g2.r.worker.type = FV_WORKER_TASK;
    g2.r.worker.metadata = ct_json("{\"v\":2}");
    ct_reg_task(&g2, "send-mail");
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g2, &out), FV_OK);
    CU_ASSERT(!out.created);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &first));
    CU_ASSERT(!fv_uuid_eq(&out.worker_id, &g2.r.worker.id));

    fv_worker w = ct_get_worker(&ct.t1, &first);
    FV_ASSERT_STR_EQ(w.version, "2.0.0");
    FV_ASSERT_INT_EQ(w.type, FV_WORKER_TASK);
    CU_ASSERT(ct_json_eq(w.metadata, "{\"v\":2}"));
    FV_ASSERT_INT_EQ(w.registered_at, CT_T0 + 10 * SEC);
    FV_ASSERT_INT_EQ(w.last_seen_at, CT_T0 + 10 * SEC);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0 + 10 * SEC);
    FV_ASSERT_INT_EQ(w.workflow_kinds, 0);
    FV_ASSERT_INT_EQ(w.task_kinds, 1);

    /* The fresh id of the second registration was not used. */
    fv_worker tmp;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t1, &g2.r.worker.id, &tmp, &err),
                     FV_E_NOT_FOUND);
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    FV_ASSERT_INT_EQ(ct_list_workers(&f, CT_T0 + 10 * SEC).total, 1);
}

/* A restarted process (new pid) is a new worker; the old row stays. */
static void test_worker_repo__new_pid_is_new_worker(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "101", CT_T0);
    fv_uuid a = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "102", CT_T0 + SEC);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    CU_ASSERT(!fv_uuid_eq(&out.worker_id, &a));
    fv_worker old = ct_get_worker(&ct.t1, &a);
    FV_ASSERT_STR_EQ(old.process_id, "101");
    fv_worker fresh = ct_get_worker(&ct.t1, &out.worker_id);
    FV_ASSERT_STR_EQ(fresh.process_id, "102");
}

/* Replicas sharing a name on other hosts stay distinct rows. */
static void test_worker_repo__same_name_other_host_is_distinct(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "1", CT_T0);
    fv_uuid a = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "billing", "host-b", "1", CT_T0);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    CU_ASSERT(!fv_uuid_eq(&out.worker_id, &a));
    /* And another name on the same host and pid is another worker too. */
    ct_reg_init(&g, &ct.t1, "shipping", "host-a", "1", CT_T0);
    fv_registration_outcome out2;
    FV_ASSERT_INT_EQ(ct_register(&g, &out2), FV_OK);
    CU_ASSERT(out2.created);
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    FV_ASSERT_INT_EQ(ct_list_workers(&f, CT_T0).total, 3);
}

/* "No space" (and no host, no pid) is one value: it never lets duplicates in. */
static void test_worker_repo__null_space_is_one_value(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0);
    fv_uuid a = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0 + SEC);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(!out.created);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &a));

    /* Host and pid not given: still one worker. */
    ct_reg_init(&g, &ct.t1, "anonymous", NULL, NULL, CT_T0);
    fv_uuid b = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "anonymous", NULL, NULL, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(!out.created);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &b));

    fv_worker_filter f = ct_worker_filter(&ct.t1);
    f.space = ct_sel_none();
    FV_ASSERT_INT_EQ(ct_list_workers(&f, CT_T0 + SEC).total, 2);
}

/* The space is part of the identity; the same space twice is one worker. */
static void test_worker_repo__space_is_part_of_identity(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0);
    fv_uuid top = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0);
    g.r.worker.space = ct_space(&ct.s1);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    CU_ASSERT(!fv_uuid_eq(&out.worker_id, &top));
    fv_uuid in_s1 = out.worker_id;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0 + SEC);
    g.r.worker.space = ct_space(&ct.s1);
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(!out.created);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &in_s1));
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0);
    g.r.worker.space = ct_space(&ct.s2);
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    fv_worker w = ct_get_worker(&ct.t1, &in_s1);
    CU_ASSERT(w.space.has && fv_uuid_eq(&w.space.id, &ct.s1));
}

/* The tenant is part of the identity. */
static void test_worker_repo__tenant_is_part_of_identity(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "billing", "host-a", "7", CT_T0);
    fv_uuid a = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t2, "billing", "host-a", "7", CT_T0);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
    CU_ASSERT(!fv_uuid_eq(&out.worker_id, &a));
    fv_worker w = ct_get_worker(&ct.t2, &out.worker_id);
    CU_ASSERT(fv_uuid_eq(&w.tenant_id, &ct.t2));
}

/* Registering an OFFLINE worker again sets it ONLINE and records the change
 * as "registered"; status history is newest first. */
static void test_worker_repo__reregistration_brings_worker_online(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    ct_transition_ok(&ct.t1, &id, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 100 * SEC,
                     "no sign of life for 100s");
    fv_uuid again = ct_worker(&ct.t1, no_space, "w", "1", CT_T0 + 200 * SEC, NULL, NULL);
    CU_ASSERT(fv_uuid_eq(&again, &id));
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.status_changed_at, CT_T0 + 200 * SEC);

    fv_status_change_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 10, &h, &err),
                     FV_OK);
    CU_ASSERT_FATAL(h.n >= 2);
    CU_ASSERT(fv_uuid_eq(&h.items[0].worker_id, &id));
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[0].at, CT_T0 + 200 * SEC);
    FV_ASSERT_STR_EQ(h.items[0].reason, "registered");
    FV_ASSERT_INT_EQ(h.items[1].from, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[1].to, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[1].at, CT_T0 + 100 * SEC);
    FV_ASSERT_STR_EQ(h.items[1].reason, "no sign of life for 100s");
}

/* Registering an ONLINE worker again records no status change. */
static void test_worker_repo__reregistration_while_online_records_nothing(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    size_t before = ct_history_len(&ct.t1, &id);
    ct_worker(&ct.t1, no_space, "w", "1", CT_T0 + SEC, NULL, NULL);
    ct_worker(&ct.t1, no_space, "w", "1", CT_T0 + 2 * SEC, NULL, NULL);
    FV_ASSERT_INT_EQ(ct_history_len(&ct.t1, &id), before);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &id).status, FV_STATUS_ONLINE);
}

/* Capabilities: workflows then tasks, each by kind, with what each link
 * carries; an existing definition keeps its id. */
static void test_worker_repo__capabilities_ordered_by_kind(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    ct_reg_workflow(&g, "zeta", "3.0.0", "hz");
    ct_reg_workflow(&g, "alpha", "1.0.0", "ha");
    fv_capability *mid = ct_reg_workflow(&g, "mid", NULL, NULL);
    mid->name = "Middle";
    ct_reg_task(&g, "t2");
    ct_reg_task(&g, "t1");
    fv_uuid alpha_def = g.wf_ids[1];
    fv_uuid id = ct_register_ok(&g);

    fv_capability_ref_list wf, tk;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t1, &id, &wf, &tk, &err),
                     FV_OK);
    CU_ASSERT_FATAL(wf.n == 3 && tk.n == 2);
    FV_ASSERT_STR_EQ(wf.items[0].kind, "alpha");
    FV_ASSERT_STR_EQ(wf.items[1].kind, "mid");
    FV_ASSERT_STR_EQ(wf.items[2].kind, "zeta");
    FV_ASSERT_STR_EQ(tk.items[0].kind, "t1");
    FV_ASSERT_STR_EQ(tk.items[1].kind, "t2");
    CU_ASSERT(fv_uuid_eq(&wf.items[0].definition_id, &alpha_def));
    FV_ASSERT_INT_EQ(wf.items[0].cls, FV_DEF_WORKFLOW);
    FV_ASSERT_INT_EQ(tk.items[0].cls, FV_DEF_TASK);
    FV_ASSERT_STR_EQ(wf.items[0].version, "1.0.0");
    FV_ASSERT_STR_EQ(wf.items[0].content_hash, "ha");
    FV_ASSERT_STR_EQ(wf.items[2].version, "3.0.0");
    FV_ASSERT_STR_EQ(wf.items[2].content_hash, "hz");
    FV_ASSERT_STR_EQ(wf.items[1].name, "Middle");
    CU_ASSERT_PTR_NULL(wf.items[1].version);
    CU_ASSERT_PTR_NULL(wf.items[1].content_hash);
    FV_ASSERT_INT_EQ(wf.items[0].registered_at, CT_T0);
    FV_ASSERT_INT_EQ(tk.items[1].registered_at, CT_T0);

    /* A second worker declaring alpha links to the same definition. */
    ct_reg_init(&g, &ct.t1, "w2", "h", "2", CT_T0 + SEC);
    ct_reg_workflow(&g, "alpha", "1.0.0", NULL);
    fv_uuid id2 = ct_register_ok(&g);
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t1, &id2, &wf, &tk, &err),
                     FV_OK);
    CU_ASSERT_FATAL(wf.n == 1);
    CU_ASSERT(fv_uuid_eq(&wf.items[0].definition_id, &alpha_def));
    FV_ASSERT_INT_EQ(tk.n, 0);
}

/* Re-registration replaces the links: a dropped kind is unlinked (its
 * definition stays, its stored and derived availability recomputed). */
static void test_worker_repo__links_replaced_on_reregistration(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    ct_reg_workflow(&g, "a", "1.0.0", NULL);
    ct_reg_workflow(&g, "b", "1.0.0", NULL);
    ct_reg_task(&g, "t");
    fv_uuid id = ct_register_ok(&g);
    fv_definition a = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "a", CT_T0);
    FV_ASSERT_INT_EQ(a.availability, FV_AVAIL_AVAILABLE);

    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0 + SEC);
    ct_reg_workflow(&g, "c", "1.0.0", NULL);
    ct_reg_workflow(&g, "b", "1.1.0", NULL);
    fv_uuid again = ct_register_ok(&g);
    CU_ASSERT(fv_uuid_eq(&again, &id));

    fv_capability_ref_list wf, tk;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t1, &id, &wf, &tk, &err),
                     FV_OK);
    CU_ASSERT_FATAL(wf.n == 2);
    FV_ASSERT_STR_EQ(wf.items[0].kind, "b");
    FV_ASSERT_STR_EQ(wf.items[0].version, "1.1.0");
    FV_ASSERT_STR_EQ(wf.items[1].kind, "c");
    FV_ASSERT_INT_EQ(tk.n, 0);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.workflow_kinds, 2);
    FV_ASSERT_INT_EQ(w.task_kinds, 0);

    /* The dropped definitions stay, unlinked and unavailable. */
    fv_definition a2 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "a", CT_T0 + SEC);
    CU_ASSERT(fv_uuid_eq(&a2.id, &a.id));
    FV_ASSERT_INT_EQ(a2.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(a2.worker_count, 0);
    fv_definition t = ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "t", CT_T0 + SEC);
    FV_ASSERT_INT_EQ(t.availability, FV_AVAIL_UNAVAILABLE);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                   &a.id, &lw, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
    FV_ASSERT_INT_EQ(
        fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_TASK, &t.id, &lw, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);

    /* Stored availability was recomputed by the registration itself. */
    fv_availability_change_list ch;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.task_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
}

static const fv_workflow_peer *find_peer(const fv_registration_outcome *o, const fv_uuid *id)
{
    for (size_t i = 0; i < o->n_peers; i++)
        if (fv_uuid_eq(&o->peers[i].worker.id, id))
            return &o->peers[i];
    return NULL;
}

/* Peers (possible conflicts): other workers linked to a registered workflow
 * with the same version and a different content hash, both given; never the
 * registering worker, never another tenant's. */
static void test_worker_repo__peers_reported(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "alpha", "h", "1", CT_T0);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-a");
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    FV_ASSERT_INT_EQ(out.n_peers, 0);
    fv_uuid a = out.worker_id;

    ct_reg_init(&g, &ct.t1, "beta", "h", "2", CT_T0 + SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-b");
    ct_reg_task(&g, "order"); /* tasks have no peers */
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    fv_uuid b = out.worker_id;
    FV_ASSERT_INT_EQ(out.n_peers, 1);
    const fv_workflow_peer *p = find_peer(&out, &a);
    CU_ASSERT_FATAL(p != NULL);
    FV_ASSERT_STR_EQ(p->kind, "order");
    FV_ASSERT_STR_EQ(p->content_hash, "hash-a");
    FV_ASSERT_STR_EQ(p->worker.name, "alpha");
    CU_ASSERT(fv_uuid_eq(&p->worker.tenant_id, &ct.t1));
    FV_ASSERT_INT_EQ(p->worker.last_seen_at, CT_T0);

    /* Another version: no peer. */
    ct_reg_init(&g, &ct.t1, "gamma", "h", "3", CT_T0 + 2 * SEC);
    ct_reg_workflow(&g, "order", "2.0.0", "hash-x");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    FV_ASSERT_INT_EQ(out.n_peers, 0);

    /* No content hash declared: nothing to conflict with. */
    ct_reg_init(&g, &ct.t1, "delta", "h", "4", CT_T0 + 3 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", NULL);
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    FV_ASSERT_INT_EQ(out.n_peers, 0);

    /* Same hash as alpha: only beta differs (delta declared none). */
    ct_reg_init(&g, &ct.t1, "epsilon", "h", "5", CT_T0 + 4 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-a");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    fv_uuid e = out.worker_id;
    FV_ASSERT_INT_EQ(out.n_peers, 1);
    const fv_workflow_peer *pb = find_peer(&out, &b);
    CU_ASSERT_FATAL(pb != NULL);
    FV_ASSERT_STR_EQ(pb->content_hash, "hash-b");
    FV_ASSERT_STR_EQ(pb->worker.name, "beta");

    /* A third hash differs from alpha, beta and epsilon. */
    ct_reg_init(&g, &ct.t1, "zeta", "h", "6", CT_T0 + 5 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-c");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    FV_ASSERT_INT_EQ(out.n_peers, 3);
    CU_ASSERT(find_peer(&out, &a) != NULL);
    CU_ASSERT(find_peer(&out, &b) != NULL);
    CU_ASSERT(find_peer(&out, &e) != NULL);
    CU_ASSERT(find_peer(&out, &out.worker_id) == NULL);
    for (size_t i = 0; i < out.n_peers; i++)
        FV_ASSERT_STR_EQ(out.peers[i].kind, "order");

    /* The same kind in the other tenant is another definition: no peers. */
    ct_reg_init(&g, &ct.t2, "eta", "h", "7", CT_T0 + 6 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-z");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    FV_ASSERT_INT_EQ(out.n_peers, 0);

    /* Re-registering alpha (hash-a) reports beta and zeta, never itself. */
    ct_reg_init(&g, &ct.t1, "alpha", "h", "1", CT_T0 + 7 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-a");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(fv_uuid_eq(&out.worker_id, &a));
    FV_ASSERT_INT_EQ(out.n_peers, 2);
    CU_ASSERT(find_peer(&out, &a) == NULL);
    CU_ASSERT(find_peer(&out, &b) != NULL);
    CU_ASSERT(find_peer(&out, &e) == NULL);

    /* With a new hash its own old link differs too: still never itself. */
    ct_reg_init(&g, &ct.t1, "alpha", "h", "1", CT_T0 + 8 * SEC);
    ct_reg_workflow(&g, "order", "1.0.0", "hash-a2");
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(find_peer(&out, &a) == NULL);
    FV_ASSERT_INT_EQ(out.n_peers, 3); /* beta, epsilon, zeta */
    CU_ASSERT(find_peer(&out, &e) != NULL);
}

/* Every op on a worker of another tenant answers as if it did not exist,
 * and changes nothing. */
static void test_worker_repo__other_tenant_cannot_reach_worker(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    ct_reg_workflow(&g, "order", "1.0.0", NULL);
    fv_uuid id = ct_register_ok(&g);
    fv_uuid def = g.wf_ids[0];
    char *before = ct_snapshot(CT_T0);

    fv_error err;
    fv_worker w;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t2, &id, &w, &err),
                     FV_E_NOT_FOUND);
    fv_capability_ref_list wf, tk;
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t2, &id, &wf, &tk, &err),
                     FV_E_NOT_FOUND);
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t2, &id, 10, &h, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t2, &id, FV_SIGN_HEARTBEAT, CT_T0 + SEC,
                                          ct_json("{}"), true, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t2, &id, FV_SIGN_POLL, CT_T0 + SEC,
                                          FV_JSON_NONE, false, &err),
                     FV_E_NOT_FOUND);
    fv_uuid got;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_touch_by_name(ct.d.workers, &ct.t2, "w", CT_T0 + SEC, &got, &err),
        FV_E_NOT_FOUND);
    bool changed = true;
    FV_ASSERT_INT_EQ(fv_worker_repo_transition(ct.d.workers, &ct.t2, &id, FV_STATUS_ONLINE,
                                               FV_STATUS_OFFLINE, CT_T0 + SEC, "x", &changed, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t2, &id, &err), FV_E_NOT_FOUND);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t2, FV_DEF_WORKFLOW,
                                                   &def, &lw, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
    fv_worker_filter f = ct_worker_filter(&ct.t2);
    fv_worker_list l = ct_list_workers(&f, CT_T0);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(l.total, 0);

    FV_ASSERT_STR_EQ(ct_snapshot(CT_T0), before);
}

/* Unknown ids are NOT_FOUND everywhere. */
static void test_worker_repo__unknown_worker_not_found(void)
{
    fv_uuid id = ct_uuid(CT_K_OTHER, 1);
    fv_error err;
    fv_worker w;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t1, &id, &w, &err),
                     FV_E_NOT_FOUND);
    fv_capability_ref_list wf, tk;
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t1, &id, &wf, &tk, &err),
                     FV_E_NOT_FOUND);
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 10, &h, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_POLL, CT_T0,
                                          FV_JSON_NONE, false, &err),
                     FV_E_NOT_FOUND);
    bool changed = true;
    FV_ASSERT_INT_EQ(fv_worker_repo_transition(ct.d.workers, &ct.t1, &id, FV_STATUS_ONLINE,
                                               FV_STATUS_OFFLINE, CT_T0, "x", &changed, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t1, &id, &err), FV_E_NOT_FOUND);
    fv_uuid got;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_touch_by_name(ct.d.workers, &ct.t1, "nobody", CT_T0, &got, &err),
        FV_E_NOT_FOUND);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_TASK, &id, &lw, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
}

static fv_uuid typed_worker(const char *name, fv_worker_type type)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, name, "h", "1", CT_T0);
    g.r.worker.type = type;
    return ct_register_ok(&g);
}

static void test_worker_repo__list_filters_by_type(void)
{
    fv_uuid wf = typed_worker("a", FV_WORKER_WORKFLOW);
    fv_uuid tk = typed_worker("b", FV_WORKER_TASK);
    fv_uuid un = typed_worker("c", FV_WORKER_UNIFIED);
    fv_uuid tk2 = typed_worker("d", FV_WORKER_TASK);
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    f.has_type = true;
    f.type = FV_WORKER_TASK;
    fv_worker_list l = ct_list_workers(&f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT_FATAL(l.n == 2);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &tk));
    CU_ASSERT(fv_uuid_eq(&l.items[1].id, &tk2));
    FV_ASSERT_INT_EQ(l.items[0].type, FV_WORKER_TASK);
    f.type = FV_WORKER_WORKFLOW;
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.n == 1 && ct_has_worker(&l, &wf));
    f.type = FV_WORKER_UNIFIED;
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.n == 1 && ct_has_worker(&l, &un));
}

/* The status filter matches the effective status at `now`, not the stored one. */
static void test_worker_repo__list_filters_by_effective_status(void)
{
    const fv_time now = CT_T0 + 200 * SEC;
    /* Fresh: ONLINE. */
    fv_uuid fresh = ct_worker(&ct.t1, no_space, "fresh", "1", now - 10 * SEC, NULL, NULL);
    /* 50 s without a sign of life: DEGRADED (stored ONLINE). */
    fv_uuid quiet = ct_worker(&ct.t1, no_space, "quiet", "1", now - 50 * SEC, NULL, NULL);
    /* 150 s: OFFLINE (stored ONLINE). */
    fv_uuid gone = ct_worker(&ct.t1, no_space, "gone", "1", now - 150 * SEC, NULL, NULL);
    /* Fresh but its last heartbeat said degraded. */
    fv_uuid sick = ct_worker(&ct.t1, no_space, "sick", "1", now - 20 * SEC, NULL, NULL);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &sick, FV_SIGN_HEARTBEAT,
                                          now - 5 * SEC, ct_json("{\"disk\":\"full\"}"), true,
                                          &err),
                     FV_OK);
    /* Fresh but set OFFLINE by an operator after its last sign of life. */
    fv_uuid parked = ct_worker(&ct.t1, no_space, "parked", "1", now - 20 * SEC, NULL, NULL);
    ct_transition_ok(&ct.t1, &parked, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, now - 10 * SEC,
                     "operator: maintenance");

    fv_worker_filter f = ct_worker_filter(&ct.t1);
    f.has_status = true;
    f.status = FV_STATUS_ONLINE;
    fv_worker_list l = ct_list_workers(&f, now);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT(l.n == 1 && ct_has_worker(&l, &fresh));

    f.status = FV_STATUS_DEGRADED;
    l = ct_list_workers(&f, now);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(l.n == 2 && ct_has_worker(&l, &quiet) && ct_has_worker(&l, &sick));

    f.status = FV_STATUS_OFFLINE;
    l = ct_list_workers(&f, now);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(l.n == 2 && ct_has_worker(&l, &gone) && ct_has_worker(&l, &parked));

    /* The filter agrees with fv_worker_effective_status on every worker. */
    fv_worker_filter all = ct_worker_filter(&ct.t1);
    fv_worker_list every = ct_list_workers(&all, now);
    FV_ASSERT_INT_EQ(every.n, 5);
    for (size_t i = 0; i < every.n; i++) {
        fv_worker w = ct_get_worker(&ct.t1, &every.items[i].id);
        f.status = fv_worker_effective_status(&w, now, &ct.l);
        l = ct_list_workers(&f, now);
        CU_ASSERT(ct_has_worker(&l, &w.id));
    }

    /* Time moves on: at now + 100 s every one of them is OFFLINE. */
    f.status = FV_STATUS_OFFLINE;
    l = ct_list_workers(&f, now + 100 * SEC);
    FV_ASSERT_INT_EQ(l.total, 5);
}

static void test_worker_repo__list_filters_by_space(void)
{
    fv_uuid top = ct_worker(&ct.t1, no_space, "a", "1", CT_T0, NULL, NULL);
    fv_uuid in1 = ct_worker(&ct.t1, &ct.s1, "b", "1", CT_T0, NULL, NULL);
    fv_uuid in2 = ct_worker(&ct.t1, &ct.s2, "c", "1", CT_T0, NULL, NULL);
    ct_worker(&ct.t2, no_space, "d", "1", CT_T0, NULL, NULL);

    fv_worker_filter f = ct_worker_filter(&ct.t1);
    fv_worker_list l = ct_list_workers(&f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 3);
    CU_ASSERT(ct_has_worker(&l, &top) && ct_has_worker(&l, &in1) && ct_has_worker(&l, &in2));
    f.space = ct_sel_none();
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && ct_has_worker(&l, &top));
    f.space = ct_sel_id(&ct.s1);
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && ct_has_worker(&l, &in1));
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(l.items[0].space.has && fv_uuid_eq(&l.items[0].space.id, &ct.s1));
    f.space = ct_sel_id(&ct.s2);
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && ct_has_worker(&l, &in2));
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 9);
    f.space = ct_sel_id(&nowhere);
    l = ct_list_workers(&f, CT_T0);
    CU_ASSERT(l.total == 0 && l.n == 0);
}

static void test_worker_repo__list_paginates_with_total(void)
{
    const char *names[] = {"e", "d", "c", "b", "a"};
    for (size_t i = 0; i < 5; i++)
        ct_worker(&ct.t1, no_space, names[i], "1", CT_T0, NULL, NULL);
    ct_worker(&ct.t2, no_space, "zz", "1", CT_T0, NULL, NULL);
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    fv_error err;
    fv_worker_list l;
    const char *seen[5];
    size_t k = 0;
    for (int64_t off = 0; off < 6; off += 2) {
        fv_page page = {2, off};
        FV_ASSERT_INT_EQ(fv_worker_repo_list(ct.d.workers, &ct.a, &f, page, CT_T0, &ct.l, &l, &err),
                         FV_OK);
        FV_ASSERT_INT_EQ(l.total, 5);
        FV_ASSERT_INT_EQ(l.n, off < 4 ? 2 : 1);
        for (size_t i = 0; i < l.n && k < 5; i++)
            seen[k++] = l.items[i].name;
    }
    CU_ASSERT_FATAL(k == 5);
    FV_ASSERT_STR_EQ(seen[0], "a");
    FV_ASSERT_STR_EQ(seen[1], "b");
    FV_ASSERT_STR_EQ(seen[2], "c");
    FV_ASSERT_STR_EQ(seen[3], "d");
    FV_ASSERT_STR_EQ(seen[4], "e");
    fv_page beyond = {10, 10};
    FV_ASSERT_INT_EQ(fv_worker_repo_list(ct.d.workers, &ct.a, &f, beyond, CT_T0, &ct.l, &l, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(l.total, 5);
    fv_page one = {1, 0};
    FV_ASSERT_INT_EQ(fv_worker_repo_list(ct.d.workers, &ct.a, &f, one, CT_T0, &ct.l, &l, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 1);
    FV_ASSERT_INT_EQ(l.total, 5);
}

/* Lists are ordered by name, then id. */
static void test_worker_repo__list_ordered_by_name_then_id(void)
{
    ct_reg g;
    const struct {
        const char *name;
        const char *pid;
        uint32_t id;
    } rows[] = {{"b", "1", 5}, {"a", "1", 9}, {"c", "1", 1}, {"a", "2", 3}, {"a", "3", 7}};
    for (size_t i = 0; i < 5; i++) {
        ct_reg_init(&g, &ct.t1, rows[i].name, "h", rows[i].pid, CT_T0);
        g.r.worker.id = ct_uuid(CT_K_WORKER, rows[i].id);
        ct_register_ok(&g);
    }
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    fv_worker_list l = ct_list_workers(&f, CT_T0);
    CU_ASSERT_FATAL(l.n == 5);
    const uint32_t want[] = {3, 7, 9, 5, 1};
    for (size_t i = 0; i < 5; i++) {
        fv_uuid id = ct_uuid(CT_K_WORKER, want[i]);
        CU_ASSERT(fv_uuid_eq(&l.items[i].id, &id));
    }
    FV_ASSERT_STR_EQ(l.items[0].name, "a");
    FV_ASSERT_STR_EQ(l.items[3].name, "b");
    FV_ASSERT_STR_EQ(l.items[4].name, "c");
}

static void test_worker_repo__list_of_empty_tenant_is_empty(void)
{
    ct_worker(&ct.t1, no_space, "a", "1", CT_T0, NULL, NULL);
    fv_worker_filter f = ct_worker_filter(&ct.t2);
    fv_error err;
    fv_worker_list l;
    fv_page page = {FV_PAGE_DEFAULT_LIMIT, 0};
    FV_ASSERT_INT_EQ(fv_worker_repo_list(ct.d.workers, &ct.a, &f, page, CT_T0, &ct.l, &l, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(l.total, 0);
}

/* A heartbeat sets last_heartbeat_at, last_seen_at and the health info
 * (replacing the previous one); nothing else. */
static void test_worker_repo__touch_heartbeat_sets_times_and_health(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 5 * SEC, ct_json("{\"cpu\":0.5}"), false, &err),
                     FV_OK);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0 + 5 * SEC);
    FV_ASSERT_INT_EQ(w.last_seen_at, CT_T0 + 5 * SEC);
    FV_ASSERT_INT_EQ(w.registered_at, CT_T0);
    CU_ASSERT(ct_json_eq(w.health_info, "{\"cpu\":0.5}"));
    CU_ASSERT(!w.health_degraded);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);

    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 9 * SEC, FV_JSON_NONE, true, &err),
                     FV_OK);
    w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0 + 9 * SEC);
    CU_ASSERT(ct_json_eq(w.health_info, NULL));
    CU_ASSERT(w.health_degraded);
}

/* A poll sets last_seen_at only. */
static void test_worker_repo__touch_poll_sets_last_seen_only(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 5 * SEC, ct_json("{\"ok\":true}"), true, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_POLL, CT_T0 + 7 * SEC,
                                          FV_JSON_NONE, false, &err),
                     FV_OK);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.last_seen_at, CT_T0 + 7 * SEC);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0 + 5 * SEC);
    CU_ASSERT(ct_json_eq(w.health_info, "{\"ok\":true}"));
    CU_ASSERT(w.health_degraded);
    FV_ASSERT_INT_EQ(w.registered_at, CT_T0);
}

/* Signs of life never change the stored status (decision 7); the effective
 * status follows them. */
static void test_worker_repo__touch_never_changes_stored_status(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    ct_transition_ok(&ct.t1, &id, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 100 * SEC, "stale");
    size_t hist = ct_history_len(&ct.t1, &id);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 110 * SEC, FV_JSON_NONE, false, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_POLL,
                                          CT_T0 + 111 * SEC, FV_JSON_NONE, false, &err),
                     FV_OK);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(w.status_changed_at, CT_T0 + 100 * SEC);
    FV_ASSERT_INT_EQ(ct_history_len(&ct.t1, &id), hist);
    fv_worker_filter f = ct_worker_filter(&ct.t1);
    f.has_status = true;
    f.status = FV_STATUS_ONLINE;
    fv_worker_list l = ct_list_workers(&f, CT_T0 + 112 * SEC);
    CU_ASSERT(ct_has_worker(&l, &id));
}

/* A poll by name touches the most recently registered worker of that name
 * in the tenant (any space). */
static void test_worker_repo__touch_by_name_picks_latest_registration(void)
{
    fv_uuid first = ct_worker(&ct.t1, no_space, "poller", "1", CT_T0, NULL, NULL);
    fv_uuid second = ct_worker(&ct.t1, no_space, "poller", "2", CT_T0 + SEC, NULL, NULL);
    ct_worker(&ct.t1, no_space, "other", "3", CT_T0 + 2 * SEC, NULL, NULL);
    fv_uuid got;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_touch_by_name(ct.d.workers, &ct.t1, "poller", CT_T0 + 5 * SEC, &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got, &second));
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &second).last_seen_at, CT_T0 + 5 * SEC);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &second).last_heartbeat_at, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &first).last_seen_at, CT_T0);

    /* The first process registers again: it is now the most recent. */
    ct_worker(&ct.t1, no_space, "poller", "1", CT_T0 + 10 * SEC, NULL, NULL);
    FV_ASSERT_INT_EQ(
        fv_worker_repo_touch_by_name(ct.d.workers, &ct.t1, "poller", CT_T0 + 12 * SEC, &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got, &first));
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &first).last_seen_at, CT_T0 + 12 * SEC);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &second).last_seen_at, CT_T0 + 5 * SEC);

    /* A worker in a space is found by name too. */
    fv_uuid spaced = ct_worker(&ct.t1, &ct.s1, "spaced", "1", CT_T0, NULL, NULL);
    FV_ASSERT_INT_EQ(
        fv_worker_repo_touch_by_name(ct.d.workers, &ct.t1, "spaced", CT_T0 + 3 * SEC, &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got, &spaced));

    FV_ASSERT_INT_EQ(fv_worker_repo_touch_by_name(ct.d.workers, &ct.t1, "pol", CT_T0, &got, &err),
                     FV_E_NOT_FOUND);
}

/* Compare-and-set: a transition from a status the worker no longer has
 * changes nothing and says so. */
static void test_worker_repo__transition_compare_and_set(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    size_t base = ct_history_len(&ct.t1, &id);
    bool changed = false;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_transition(ct.d.workers, &ct.t1, &id, FV_STATUS_ONLINE,
                                               FV_STATUS_DEGRADED, CT_T0 + 50 * SEC, "slow",
                                               &changed, &err),
                     FV_OK);
    CU_ASSERT(changed);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.status_changed_at, CT_T0 + 50 * SEC);
    FV_ASSERT_INT_EQ(w.last_seen_at, CT_T0);

    changed = true;
    FV_ASSERT_INT_EQ(fv_worker_repo_transition(ct.d.workers, &ct.t1, &id, FV_STATUS_ONLINE,
                                               FV_STATUS_OFFLINE, CT_T0 + 60 * SEC, "late",
                                               &changed, &err),
                     FV_OK);
    CU_ASSERT(!changed);
    w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.status_changed_at, CT_T0 + 50 * SEC);
    FV_ASSERT_INT_EQ(ct_history_len(&ct.t1, &id), base + 1);

    FV_ASSERT_INT_EQ(fv_worker_repo_transition(ct.d.workers, &ct.t1, &id, FV_STATUS_DEGRADED,
                                               FV_STATUS_OFFLINE, CT_T0 + 70 * SEC, "gone",
                                               &changed, &err),
                     FV_OK);
    CU_ASSERT(changed);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &id).status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(ct_history_len(&ct.t1, &id), base + 2);
}

/* Status history: newest first, at most `limit`, with reasons. */
static void test_worker_repo__status_history_newest_first_with_limit(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    fv_uuid other = ct_worker(&ct.t1, no_space, "x", "1", CT_T0, NULL, NULL);
    ct_transition_ok(&ct.t1, &other, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 5 * SEC, "x");
    ct_transition_ok(&ct.t1, &id, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, CT_T0 + 10 * SEC, "r1");
    ct_transition_ok(&ct.t1, &id, FV_STATUS_DEGRADED, FV_STATUS_OFFLINE, CT_T0 + 20 * SEC, "r2");
    ct_transition_ok(&ct.t1, &id, FV_STATUS_OFFLINE, FV_STATUS_ONLINE, CT_T0 + 30 * SEC, "r3");
    fv_status_change_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 2, &h, &err),
                     FV_OK);
    CU_ASSERT_FATAL(h.n == 2);
    FV_ASSERT_STR_EQ(h.items[0].reason, "r3");
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[0].at, CT_T0 + 30 * SEC);
    FV_ASSERT_STR_EQ(h.items[1].reason, "r2");
    FV_ASSERT_INT_EQ(h.items[1].at, CT_T0 + 20 * SEC);
    CU_ASSERT(fv_uuid_eq(&h.items[1].worker_id, &id));
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 100, &h, &err),
                     FV_OK);
    CU_ASSERT_FATAL(h.n >= 3);
    FV_ASSERT_STR_EQ(h.items[2].reason, "r1");
    for (size_t i = 0; i < h.n; i++) {
        CU_ASSERT(fv_uuid_eq(&h.items[i].worker_id, &id));
        if (i > 0)
            CU_ASSERT(h.items[i - 1].at >= h.items[i].at);
    }
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 0, &h, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(h.n, 0);
}

/* Scan: stored status in the mask, last_seen_at in [from, to), all tenants. */
static void test_worker_repo__scan_by_status_mask_and_seen_window(void)
{
    fv_uuid on = ct_worker(&ct.t1, no_space, "on", "1", CT_T0, NULL, NULL);
    fv_uuid deg = ct_worker(&ct.t1, no_space, "deg", "1", CT_T0 + 10 * SEC, NULL, NULL);
    ct_transition_ok(&ct.t1, &deg, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, CT_T0 + 60 * SEC, "slow");
    fv_uuid off = ct_worker(&ct.t1, no_space, "off", "1", CT_T0 + 10 * SEC, NULL, NULL);
    ct_transition_ok(&ct.t1, &off, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "gone");
    fv_uuid other = ct_worker(&ct.t2, no_space, "other", "1", CT_T0 + 15 * SEC, NULL, NULL);
    fv_uuid edge = ct_worker(&ct.t1, &ct.s1, "edge", "1", CT_T0 + 20 * SEC, NULL, NULL);

    unsigned live = FV_STATUS_BIT(FV_STATUS_ONLINE) | FV_STATUS_BIT(FV_STATUS_DEGRADED);
    fv_worker_list l;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_scan(ct.d.workers, &ct.a, live, CT_T0, CT_T0 + 20 * SEC, &l, &err), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 3);
    CU_ASSERT(ct_has_worker(&l, &on));
    CU_ASSERT(ct_has_worker(&l, &deg));
    CU_ASSERT(ct_has_worker(&l, &other));
    CU_ASSERT(!ct_has_worker(&l, &off));
    CU_ASSERT(!ct_has_worker(&l, &edge)); /* seen_to is exclusive */
    for (size_t i = 0; i < l.n; i++) {
        if (fv_uuid_eq(&l.items[i].id, &deg)) {
            FV_ASSERT_INT_EQ(l.items[i].status, FV_STATUS_DEGRADED);
            FV_ASSERT_INT_EQ(l.items[i].last_seen_at, CT_T0 + 10 * SEC);
        }
        if (fv_uuid_eq(&l.items[i].id, &other))
            CU_ASSERT(fv_uuid_eq(&l.items[i].tenant_id, &ct.t2));
    }

    FV_ASSERT_INT_EQ(
        fv_worker_repo_scan(ct.d.workers, &ct.a, live, CT_T0 + 10 * SEC + 1, INT64_MAX, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.n, 2);
    CU_ASSERT(ct_has_worker(&l, &other) && ct_has_worker(&l, &edge));

    FV_ASSERT_INT_EQ(fv_worker_repo_scan(ct.d.workers, &ct.a, FV_STATUS_BIT(FV_STATUS_OFFLINE),
                                         INT64_MIN, INT64_MAX, &l, &err),
                     FV_OK);
    CU_ASSERT(l.n == 1 && ct_has_worker(&l, &off));

    FV_ASSERT_INT_EQ(fv_worker_repo_scan(ct.d.workers, &ct.a, FV_STATUS_BIT(FV_STATUS_ONLINE),
                                         INT64_MIN, INT64_MAX, &l, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 3);

    FV_ASSERT_INT_EQ(fv_worker_repo_scan(ct.d.workers, &ct.a, 0, INT64_MIN, INT64_MAX, &l, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* Remove: the worker, its links and history go; definitions stay with their
 * availability recomputed. */
static void test_worker_repo__remove_drops_links_keeps_definitions(void)
{
    static const char *const wf[] = {"shared", "solo", NULL};
    static const char *const tk[] = {"t", NULL};
    static const char *const wf2[] = {"shared", NULL};
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, wf, tk);
    fv_uuid keep = ct_worker(&ct.t1, no_space, "k", "1", CT_T0, wf2, NULL);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t1, &id, &err), FV_OK);

    fv_worker w;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t1, &id, &w, &err),
                     FV_E_NOT_FOUND);
    fv_capability_ref_list cw, ctk;
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &ct.a, &ct.t1, &id, &cw, &ctk, &err),
                     FV_E_NOT_FOUND);
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_worker_repo_status_history(ct.d.workers, &ct.a, &ct.t1, &id, 10, &h, &err),
                     FV_E_NOT_FOUND);

    fv_definition shared = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "shared", CT_T0);
    FV_ASSERT_INT_EQ(shared.worker_count, 1);
    FV_ASSERT_INT_EQ(shared.availability, FV_AVAIL_AVAILABLE);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                   &shared.id, &lw, &err),
                     FV_OK);
    CU_ASSERT(lw.n == 1 && fv_uuid_eq(&lw.items[0].worker.id, &keep));
    fv_definition solo = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "solo", CT_T0);
    FV_ASSERT_INT_EQ(solo.worker_count, 0);
    FV_ASSERT_INT_EQ(solo.availability, FV_AVAIL_UNAVAILABLE);
    fv_definition t = ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "t", CT_T0);
    FV_ASSERT_INT_EQ(t.worker_count, 0);

    /* Stored availability was recomputed by remove. */
    fv_availability_change_list ch;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.task_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);

    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t1, &id, &err), FV_E_NOT_FOUND);
    /* The same identity registers anew as a new row. */
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0 + SEC);
    fv_registration_outcome out;
    FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
    CU_ASSERT(out.created);
}

/* Retention: every worker stored OFFLINE and last seen before the cutoff
 * goes, in every tenant. */
static void test_worker_repo__remove_offline_by_cutoff(void)
{
    static const char *const wf[] = {"k", NULL};
    fv_uuid old_off = ct_worker(&ct.t1, no_space, "a", "1", CT_T0, wf, NULL);
    ct_transition_ok(&ct.t1, &old_off, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "x");
    fv_uuid edge_off = ct_worker(&ct.t1, no_space, "b", "1", CT_T0 + 100 * SEC, wf, NULL);
    ct_transition_ok(&ct.t1, &edge_off, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 190 * SEC,
                     "x");
    fv_uuid old_on = ct_worker(&ct.t1, no_space, "c", "1", CT_T0, wf, NULL);
    fv_uuid other = ct_worker(&ct.t2, no_space, "d", "1", CT_T0, wf, NULL);
    ct_transition_ok(&ct.t2, &other, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "x");

    fv_uuid_list out;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_remove_offline(ct.d.workers, &ct.a, CT_T0 + 100 * SEC, &out, &err), FV_OK);
    FV_ASSERT_INT_EQ(out.n, 2);
    CU_ASSERT(ct_has_uuid(out.items, out.n, &old_off));
    CU_ASSERT(ct_has_uuid(out.items, out.n, &other));

    fv_worker w;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t1, &old_off, &w, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t2, &other, &w, &err),
                     FV_E_NOT_FOUND);
    ct_get_worker(&ct.t1, &edge_off);
    ct_get_worker(&ct.t1, &old_on);

    fv_definition k = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "k", CT_T0 + 200 * SEC);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                   &k.id, &lw, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 2);
    CU_ASSERT(!fv_uuid_eq(&lw.items[0].worker.id, &old_off));
    CU_ASSERT(!fv_uuid_eq(&lw.items[1].worker.id, &old_off));
    fv_definition k2 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t2, no_space, "k", CT_T0 + 200 * SEC);
    FV_ASSERT_INT_EQ(k2.worker_count, 0);

    FV_ASSERT_INT_EQ(
        fv_worker_repo_remove_offline(ct.d.workers, &ct.a, CT_T0 + 100 * SEC, &out, &err), FV_OK);
    FV_ASSERT_INT_EQ(out.n, 0);
}

/* Linked workers: by name then id, with the version and hash of each link. */
static void test_worker_repo__linked_workers_ordered_by_name_then_id(void)
{
    ct_reg g;
    const struct {
        const char *name;
        const char *pid;
        uint32_t id;
        const char *version;
    } rows[] = {{"b", "1", 1, "1.0.0"}, {"a", "1", 8, "2.0.0"}, {"a", "2", 4, "1.0.0"}};
    fv_uuid def = ct_uuid(CT_K_DEF, 1);
    for (size_t i = 0; i < 3; i++) {
        ct_reg_init(&g, &ct.t1, rows[i].name, "h", rows[i].pid, CT_T0);
        g.r.worker.id = ct_uuid(CT_K_WORKER, rows[i].id);
        ct_reg_workflow(&g, "flow", rows[i].version, rows[i].version);
        g.wf_ids[0] = def;
        ct_register_ok(&g);
    }
    ct_worker(&ct.t1, no_space, "z", "1", CT_T0, NULL, NULL); /* unlinked */
    fv_linked_worker_list lw;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                   &def, &lw, &err),
                     FV_OK);
    CU_ASSERT_FATAL(lw.n == 3);
    const uint32_t want[] = {4, 8, 1};
    for (size_t i = 0; i < 3; i++) {
        fv_uuid id = ct_uuid(CT_K_WORKER, want[i]);
        CU_ASSERT(fv_uuid_eq(&lw.items[i].worker.id, &id));
    }
    FV_ASSERT_STR_EQ(lw.items[0].version, "1.0.0");
    FV_ASSERT_STR_EQ(lw.items[1].version, "2.0.0");
    FV_ASSERT_STR_EQ(lw.items[1].content_hash, "2.0.0");
    FV_ASSERT_STR_EQ(lw.items[2].worker.name, "b");
    /* The task repository's class does not see workflow links. */
    FV_ASSERT_INT_EQ(
        fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_TASK, &def, &lw, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
}

/* Results are copies in the caller's arena: later writes do not reach them,
 * and the store keeps no pointer into the caller's input. */
static void test_worker_repo__results_live_in_callers_arena(void)
{
    char *name = fv_strdup("copied-name");
    char *host = fv_strdup("copied-host");
    char *kind = fv_strdup("copied-kind");
    char *meta = fv_strdup("{\"a\":1}");
    CU_ASSERT_FATAL(name && host && kind && meta);
    ct_reg g;
    ct_reg_init(&g, &ct.t1, name, host, "1", CT_T0);
    g.r.worker.metadata = ct_json(meta);
    ct_reg_workflow(&g, kind, "1.0.0", NULL);
    fv_uuid id = ct_register_ok(&g);
    /* Scribble over and free the input. */
    memset(name, 'X', strlen(name));
    memset(host, 'X', strlen(host));
    memset(kind, 'X', strlen(kind));
    memset(meta, 'X', strlen(meta));
    fv_free(name);
    fv_free(host);
    fv_free(kind);
    fv_free(meta);

    fv_arena mine;
    fv_arena_init(&mine, 0);
    fv_worker w;
    fv_capability_ref_list cw, ctk;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &mine, &ct.t1, &id, &w, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_capabilities(ct.d.workers, &mine, &ct.t1, &id, &cw, &ctk, &err),
                     FV_OK);
    FV_ASSERT_STR_EQ(w.name, "copied-name");
    FV_ASSERT_STR_EQ(w.host_name, "copied-host");
    CU_ASSERT(ct_json_eq(w.metadata, "{\"a\":1}"));
    CU_ASSERT_FATAL(cw.n == 1);
    FV_ASSERT_STR_EQ(cw.items[0].kind, "copied-kind");

    /* Health info the store may overwrite in place (same length). */
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT, CT_T0 + SEC,
                                          ct_json("{\"x\":1}"), false, &err),
                     FV_OK);
    fv_worker hw;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &mine, &ct.t1, &id, &hw, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT, CT_T0 + SEC,
                                          ct_json("{\"x\":2}"), false, &err),
                     FV_OK);
    CU_ASSERT(ct_json_eq(hw.health_info, "{\"x\":1}"));

    /* The store changes; the copies do not. */
    ct_reg_init(&g, &ct.t1, "copied-name", "copied-host", "1", CT_T0 + SEC);
    g.r.worker.version = "9.9.9";
    g.r.worker.metadata = ct_json("{\"b\":2}");
    ct_reg_task(&g, "other");
    ct_register_ok(&g);
    FV_ASSERT_STR_EQ(w.version, "1.0.0");
    CU_ASSERT(ct_json_eq(w.metadata, "{\"a\":1}"));
    FV_ASSERT_STR_EQ(cw.items[0].kind, "copied-kind");
    fv_arena_release(&mine);

    /* Releasing the caller's arena leaves the store intact. */
    fv_worker again = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_STR_EQ(again.name, "copied-name");
    FV_ASSERT_STR_EQ(again.version, "9.9.9");
    CU_ASSERT(ct_json_eq(again.metadata, "{\"b\":2}"));
    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "copied-kind", CT_T0 + SEC);
    FV_ASSERT_STR_EQ(d.kind, "copied-kind");
}

enum { RACERS = 8, RACE_ROUNDS = 25 };

typedef struct racer {
    ct_reg g[RACE_ROUNDS];
    char name[16];
    fv_err rc;
    int reads_failed;
} racer;

/* One thread: register the same process again and again (same kinds as
 * every other thread), reading the catalog in between. */
static void *race(void *arg)
{
    racer *r = arg;
    r->rc = FV_OK;
    for (int i = 0; i < RACE_ROUNDS && r->rc == FV_OK; i++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        ct_reg *g = &r->g[i];
        g->r.workflows = g->wf;
        g->r.workflow_def_ids = g->wf_ids;
        g->r.tasks = g->tk;
        g->r.task_def_ids = g->tk_ids;
        fv_registration_outcome out;
        fv_error err;
        r->rc = fv_worker_repo_register(ct.d.workers, &a, &g->r, &out, &err);
        fv_definition_filter f = ct_def_filter(&ct.t1);
        fv_page page = {FV_PAGE_MAX_LIMIT, 0};
        fv_definition_list l;
        if (fv_definition_repo_list(ct.d.workflow_defs, &a, &f, page, g->r.now, &ct.l, &l, &err) !=
            FV_OK)
            r->reads_failed++;
        fv_arena_release(&a);
    }
    return NULL;
}

/* Concurrent registrations of the same kinds all succeed and end in one
 * definition per kind linked to every worker (ports are thread-safe). */
static void test_worker_repo__concurrent_registrations_all_succeed(void)
{
    static racer racers[RACERS];
    for (int t = 0; t < RACERS; t++) {
        snprintf(racers[t].name, sizeof racers[t].name, "racer-%d", t);
        for (int i = 0; i < RACE_ROUNDS; i++) {
            ct_reg *g = &racers[t].g[i];
            ct_reg_init(g, &ct.t1, racers[t].name, "h", "1", CT_T0 + i);
            ct_reg_workflow(g, "shared-flow", i % 2 ? "1.0.0" : "1.1.0", NULL);
            ct_reg_workflow(g, "other-flow", "1.0.0", NULL);
            ct_reg_task(g, "shared-task");
        }
    }
    pthread_t th[RACERS];
    int started = 0;
    for (int t = 0; t < RACERS; t++) {
        if (pthread_create(&th[t], NULL, race, &racers[t]) != 0)
            break;
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    FV_ASSERT_INT_EQ(started, RACERS);
    for (int t = 0; t < started; t++) {
        FV_ASSERT_INT_EQ(racers[t].rc, FV_OK);
        FV_ASSERT_INT_EQ(racers[t].reads_failed, 0);
    }
    const fv_time now = CT_T0 + RACE_ROUNDS;
    fv_worker_filter wf = ct_worker_filter(&ct.t1);
    FV_ASSERT_INT_EQ(ct_list_workers(&wf, now).total, RACERS);
    fv_definition_filter df = ct_def_filter(&ct.t1);
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &df, now);
    FV_ASSERT_INT_EQ(l.total, 2);
    for (size_t i = 0; i < l.n; i++)
        FV_ASSERT_INT_EQ(l.items[i].worker_count, RACERS);
    fv_definition shared = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "shared-flow", now);
    FV_ASSERT_STR_EQ(shared.latest_version, "1.1.0");
    l = ct_list_defs(FV_DEF_TASK, &df, now);
    FV_ASSERT_INT_EQ(l.total, 1);
    fv_linked_worker_list lw;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                   &shared.id, &lw, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, RACERS);
}

/* Metrics: workers of every tenant by effective status, derived at `now`
 * like the reads (age of the last sign of life, health, an operator's
 * status newer than the last sign of life). */
static void test_worker_repo__count_by_status_across_tenants(void)
{
    CU_ASSERT_FATAL(ct.d.workers.ops->count_by_status != NULL);
    fv_worker_counts c;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_count_by_status(ct.d.workers, CT_T0, &ct.l, &c, &err), FV_OK);
    FV_ASSERT_INT_EQ(c.online + c.degraded + c.offline, 0);

    fv_uuid w1 = ct_worker(&ct.t1, no_space, "w1", "1", CT_T0, NULL, NULL);
    fv_uuid w2 = ct_worker(&ct.t1, &ct.s1, "w2", "1", CT_T0, NULL, NULL);
    ct_worker(&ct.t2, no_space, "w3", "1", CT_T0 - 100 * SEC, NULL, NULL);
    fv_uuid w4 = ct_worker(&ct.t2, no_space, "w4", "1", CT_T0 + 45 * SEC, NULL, NULL);
    fv_uuid w5 = ct_worker(&ct.t1, no_space, "w5", "1", CT_T0 + 45 * SEC, NULL, NULL);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &w2, FV_SIGN_POLL, CT_T0 + 40 * SEC,
                                          FV_JSON_NONE, false, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t2, &w4, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 46 * SEC, FV_JSON_NONE, true, &err),
                     FV_OK);
    ct_transition_ok(&ct.t1, &w5, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 48 * SEC, "op");
    (void)w1;

    /* w1 silent 50 s: DEGRADED; w2 polled 10 s ago: ONLINE; w3 silent 150 s:
     * OFFLINE; w4 says it is degraded; w5 set OFFLINE after its last sign. */
    FV_ASSERT_INT_EQ(
        fv_worker_repo_count_by_status(ct.d.workers, CT_T0 + 50 * SEC, &ct.l, &c, &err), FV_OK);
    FV_ASSERT_INT_EQ(c.online, 1);
    FV_ASSERT_INT_EQ(c.degraded, 2);
    FV_ASSERT_INT_EQ(c.offline, 2);

    /* Later everyone is silent: the same workers, all OFFLINE. */
    FV_ASSERT_INT_EQ(
        fv_worker_repo_count_by_status(ct.d.workers, CT_T0 + 500 * SEC, &ct.l, &c, &err), FV_OK);
    FV_ASSERT_INT_EQ(c.online, 0);
    FV_ASSERT_INT_EQ(c.degraded, 0);
    FV_ASSERT_INT_EQ(c.offline, 5);

    /* Removed workers are not counted. */
    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t1, &w5, &err), FV_OK);
    FV_ASSERT_INT_EQ(
        fv_worker_repo_count_by_status(ct.d.workers, CT_T0 + 500 * SEC, &ct.l, &c, &err), FV_OK);
    FV_ASSERT_INT_EQ(c.offline, 4);
}

/* ------------------------------------------------------------------------
 * Signs of life an adapter may buffer (ports/worker_repo.h, touch): every
 * read of the worker repository sees them at once, before the adapter's
 * flush as after it.
 */

/* Two workers of T1 registered at CT_T0, linked to workflow "flow" 1.0.0
 * with hash "a": `live` heartbeats at +50 s (health {"disk":"ok"}) and
 * polls at +55 s, `quiet` says nothing. */
static void touched_pair(fv_uuid *live, fv_uuid *quiet)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "live", "h", "1", CT_T0);
    ct_reg_workflow(&g, "flow", "1.0.0", "a");
    *live = ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "quiet", "h", "2", CT_T0);
    ct_reg_workflow(&g, "flow", "1.0.0", "a");
    *quiet = ct_register_ok(&g);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, live, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 50 * SEC, ct_json("{\"disk\":\"ok\"}"), false,
                                          &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, live, FV_SIGN_POLL,
                                          CT_T0 + 55 * SEC, FV_JSON_NONE, false, &err),
                     FV_OK);
}

static void assert_touched(const fv_worker *w)
{
    FV_ASSERT_INT_EQ(w->last_seen_at, CT_T0 + 55 * SEC);
    FV_ASSERT_INT_EQ(w->last_heartbeat_at, CT_T0 + 50 * SEC);
    CU_ASSERT(ct_json_eq(w->health_info, "{\"disk\":\"ok\"}"));
    CU_ASSERT(!w->health_degraded);
}

/* get, list (its status filter, page and total, the count of a page beyond
 * the last), linked workers and registration peers. */
static void test_worker_repo__touch_visible_to_reads_at_once(void)
{
    fv_uuid live, quiet;
    touched_pair(&live, &quiet);
    const fv_time now = CT_T0 + 60 * SEC; /* quiet: silent 60 s, DEGRADED */
    fv_error err;
    for (int flushed = 0; flushed < 2; flushed++) {
        if (flushed)
            ct_flush();
        fv_worker w = ct_get_worker(&ct.t1, &live);
        assert_touched(&w);

        fv_worker_filter f = ct_worker_filter(&ct.t1);
        f.has_status = true;
        f.status = FV_STATUS_ONLINE;
        /* (The second round also finds "other-build", registered below.) */
        fv_worker_list l = ct_list_workers(&f, now);
        FV_ASSERT_INT_EQ(l.total, 1 + flushed);
        CU_ASSERT_FATAL(l.n == (size_t)(1 + flushed) && ct_has_worker(&l, &live));
        assert_touched(&l.items[0]); /* "live" < "other-build" */
        FV_ASSERT_INT_EQ(l.items[0].effective_status, FV_STATUS_ONLINE);
        f.status = FV_STATUS_DEGRADED;
        l = ct_list_workers(&f, now);
        FV_ASSERT_INT_EQ(l.total, 1);
        CU_ASSERT(l.n == 1 && ct_has_worker(&l, &quiet));
        f.status = FV_STATUS_ONLINE;
        fv_page beyond = {10, 5};
        FV_ASSERT_INT_EQ(fv_worker_repo_list(ct.d.workers, &ct.a, &f, beyond, now, &ct.l, &l, &err),
                         FV_OK);
        FV_ASSERT_INT_EQ(l.n, 0);
        FV_ASSERT_INT_EQ(l.total, 1 + flushed);

        fv_definition flow = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", now);
        fv_linked_worker_list lw;
        FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(ct.d.workers, &ct.a, &ct.t1, FV_DEF_WORKFLOW,
                                                       &flow.id, &lw, &err),
                         FV_OK);
        CU_ASSERT_FATAL(lw.n == (size_t)(2 + flushed));
        assert_touched(&lw.items[0].worker); /* "live" < "other-build" < "quiet" */
        FV_ASSERT_INT_EQ(lw.items[1 + flushed].worker.last_seen_at, CT_T0);

        /* A worker serving another build of flow 1.0.0 sees live as it is. */
        ct_reg g;
        ct_reg_init(&g, &ct.t1, "other-build", "h", "3", now);
        ct_reg_workflow(&g, "flow", "1.0.0", "b");
        fv_registration_outcome out;
        FV_ASSERT_INT_EQ(ct_register(&g, &out), FV_OK);
        const fv_workflow_peer *p = find_peer(&out, &live);
        CU_ASSERT_FATAL(p != NULL);
        assert_touched(&p->worker);
    }
}

/* What the jobs read: scan, count_by_status, and retention, which must not
 * remove a worker that a buffered touch keeps alive. */
static void test_worker_repo__touch_visible_to_jobs_at_once(void)
{
    fv_uuid live, quiet;
    touched_pair(&live, &quiet);
    /* Both stored OFFLINE at +1 s: live's touches came later. */
    ct_transition_ok(&ct.t1, &live, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + SEC, "op");
    ct_transition_ok(&ct.t1, &quiet, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + SEC, "op");
    fv_error err;
    for (int flushed = 0; flushed < 2; flushed++) {
        if (flushed)
            ct_flush();
        /* Stale detection's window: silent before +50 s. */
        fv_worker_list l;
        FV_ASSERT_INT_EQ(fv_worker_repo_scan(ct.d.workers, &ct.a, FV_STATUS_BIT(FV_STATUS_OFFLINE),
                                             INT64_MIN, CT_T0 + 50 * SEC, &l, &err),
                         FV_OK);
        CU_ASSERT(l.n == 1 && ct_has_worker(&l, &quiet));
        /* Activation's window: a sign of life since +50 s. */
        FV_ASSERT_INT_EQ(fv_worker_repo_scan(ct.d.workers, &ct.a, FV_STATUS_BIT(FV_STATUS_OFFLINE),
                                             CT_T0 + 50 * SEC, INT64_MAX, &l, &err),
                         FV_OK);
        CU_ASSERT_FATAL(l.n == 1 && ct_has_worker(&l, &live));
        assert_touched(&l.items[0]);

        fv_worker_counts c;
        FV_ASSERT_INT_EQ(
            fv_worker_repo_count_by_status(ct.d.workers, CT_T0 + 60 * SEC, &ct.l, &c, &err), FV_OK);
        FV_ASSERT_INT_EQ(c.online, 1);
        FV_ASSERT_INT_EQ(c.offline, 1);
    }
    /* Retention at a cutoff between the registration and the touches. */
    fv_uuid_list removed;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_remove_offline(ct.d.workers, &ct.a, CT_T0 + 52 * SEC, &removed, &err),
        FV_OK);
    CU_ASSERT(removed.n == 1 && ct_has_uuid(removed.items, removed.n, &quiet));
    fv_worker w = ct_get_worker(&ct.t1, &live);
    assert_touched(&w);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &quiet, FV_SIGN_POLL,
                                          CT_T0 + 61 * SEC, FV_JSON_NONE, false, &err),
                     FV_E_NOT_FOUND);
}

/* A registration after a touch wins (it sets every time and the health),
 * also once the adapter flushed; a touch after it is recorded again. */
static void test_worker_repo__registration_after_touch_wins(void)
{
    fv_uuid id = ct_worker(&ct.t1, no_space, "w", "1", CT_T0, NULL, NULL);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 5 * SEC, ct_json("{\"x\":1}"), true, &err),
                     FV_OK);
    fv_uuid again = ct_worker(&ct.t1, no_space, "w", "1", CT_T0 + 5 * SEC, NULL, NULL);
    CU_ASSERT(fv_uuid_eq(&again, &id));
    for (int flushed = 0; flushed < 2; flushed++) {
        if (flushed)
            ct_flush();
        fv_worker w = ct_get_worker(&ct.t1, &id);
        FV_ASSERT_INT_EQ(w.last_heartbeat_at, CT_T0 + 5 * SEC);
        CU_ASSERT(ct_json_eq(w.health_info, NULL));
        CU_ASSERT(!w.health_degraded);
    }
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &id, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 6 * SEC, ct_json("{\"x\":2}"), false, &err),
                     FV_OK);
    CU_ASSERT(ct_json_eq(ct_get_worker(&ct.t1, &id).health_info, "{\"x\":2}"));
    ct_flush();
    CU_ASSERT(ct_json_eq(ct_get_worker(&ct.t1, &id).health_info, "{\"x\":2}"));
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &id).last_seen_at, CT_T0 + 6 * SEC);
}

const fv_test_case ct_worker_cases[] = {
    FV_TEST_CASE(test_worker_repo__register_creates_worker),
    FV_TEST_CASE(test_worker_repo__register_keeps_absent_fields_absent),
    FV_TEST_CASE(test_worker_repo__same_identity_keeps_id),
    FV_TEST_CASE(test_worker_repo__new_pid_is_new_worker),
    FV_TEST_CASE(test_worker_repo__same_name_other_host_is_distinct),
    FV_TEST_CASE(test_worker_repo__null_space_is_one_value),
    FV_TEST_CASE(test_worker_repo__space_is_part_of_identity),
    FV_TEST_CASE(test_worker_repo__tenant_is_part_of_identity),
    FV_TEST_CASE(test_worker_repo__reregistration_brings_worker_online),
    FV_TEST_CASE(test_worker_repo__reregistration_while_online_records_nothing),
    FV_TEST_CASE(test_worker_repo__capabilities_ordered_by_kind),
    FV_TEST_CASE(test_worker_repo__links_replaced_on_reregistration),
    FV_TEST_CASE(test_worker_repo__peers_reported),
    FV_TEST_CASE(test_worker_repo__other_tenant_cannot_reach_worker),
    FV_TEST_CASE(test_worker_repo__unknown_worker_not_found),
    FV_TEST_CASE(test_worker_repo__list_filters_by_type),
    FV_TEST_CASE(test_worker_repo__list_filters_by_effective_status),
    FV_TEST_CASE(test_worker_repo__list_filters_by_space),
    FV_TEST_CASE(test_worker_repo__list_paginates_with_total),
    FV_TEST_CASE(test_worker_repo__list_ordered_by_name_then_id),
    FV_TEST_CASE(test_worker_repo__list_of_empty_tenant_is_empty),
    FV_TEST_CASE(test_worker_repo__touch_heartbeat_sets_times_and_health),
    FV_TEST_CASE(test_worker_repo__touch_poll_sets_last_seen_only),
    FV_TEST_CASE(test_worker_repo__touch_never_changes_stored_status),
    FV_TEST_CASE(test_worker_repo__touch_by_name_picks_latest_registration),
    FV_TEST_CASE(test_worker_repo__touch_visible_to_reads_at_once),
    FV_TEST_CASE(test_worker_repo__touch_visible_to_jobs_at_once),
    FV_TEST_CASE(test_worker_repo__registration_after_touch_wins),
    FV_TEST_CASE(test_worker_repo__transition_compare_and_set),
    FV_TEST_CASE(test_worker_repo__status_history_newest_first_with_limit),
    FV_TEST_CASE(test_worker_repo__scan_by_status_mask_and_seen_window),
    FV_TEST_CASE(test_worker_repo__remove_drops_links_keeps_definitions),
    FV_TEST_CASE(test_worker_repo__remove_offline_by_cutoff),
    FV_TEST_CASE(test_worker_repo__linked_workers_ordered_by_name_then_id),
    FV_TEST_CASE(test_worker_repo__results_live_in_callers_arena),
    FV_TEST_CASE(test_worker_repo__concurrent_registrations_all_succeed),
    FV_TEST_CASE(test_worker_repo__count_by_status_across_tenants),
};
const size_t ct_worker_cases_n = FV_TEST_COUNT(ct_worker_cases);
