/* The dependency bundle: class dispatch and the check of every port. */
#include "core/deps.h"

fv_definition_repo fv_deps_definitions(const fv_deps *d, fv_def_class cls)
{
    switch (cls) {
    case FV_DEF_WORKFLOW:
        return d->workflow_defs;
    case FV_DEF_TASK:
        return d->task_defs;
    }
    return d->task_defs;
}

#define REQUIRE(cond, what)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return fv_error_set(err, FV_E_INVALID, "port %s is not set", what);                    \
    } while (0)

fv_err fv_deps_validate(const fv_deps *d, fv_error *err)
{
    const fv_worker_repo_ops *w = d->workers.ops;
    REQUIRE(w != NULL, "workers");
    REQUIRE(w->register_worker && w->get && w->list && w->capabilities && w->linked_workers &&
                w->touch && w->touch_by_name && w->transition && w->status_history && w->scan &&
                w->remove && w->remove_offline,
            "workers (an operation is missing)");
    const fv_definition_repo *defs[] = {&d->workflow_defs, &d->task_defs};
    for (size_t i = 0; i < 2; i++) {
        const fv_definition_repo_ops *o = defs[i]->ops;
        REQUIRE(o != NULL && o->get && o->list && o->configure && o->refresh_availability,
                i == 0 ? "workflow definitions" : "task definitions");
    }
    const fv_heartbeat_store_ops *h = d->heartbeats.ops;
    REQUIRE(h != NULL && h->record && h->last && h->history && h->forget, "heartbeats");
    const fv_tenant_store_ops *t = d->tenants.ops;
    REQUIRE(t != NULL && t->create_tenant && t->get_tenant && t->get_tenant_by_slug &&
                t->create_space && t->get_space && t->get_space_by_slug && t->create_api_key &&
                t->find_api_key && t->list_api_keys && t->revoke_api_key,
            "tenants");
    const fv_task_repo_ops *k = d->tasks.ops;
    REQUIRE((k == NULL) == (d->bus.ops == NULL), "tasks and bus (one without the other)");
    if (k != NULL) {
        REQUIRE(k->submit && k->get && k->list && k->claim && k->end_attempt && k->cancel &&
                    k->heartbeat && k->report_progress && k->append_event && k->events &&
                    k->attempts && k->logs && k->state_get && k->state_set && k->state_clear &&
                    k->state_clear_all && k->state_keys && k->backlog && k->expired_attempts &&
                    k->holders && k->held_by && k->expire_idempotency_keys,
                "tasks (an operation is missing)");
        REQUIRE(d->bus.ops->publish && d->bus.ops->subscribe && d->bus.ops->unsubscribe,
                "bus (an operation is missing)");
    }
    REQUIRE(d->clock.ops != NULL && d->clock.ops->now, "clock");
    REQUIRE(d->ids.ops != NULL && d->ids.ops->new_uuid && d->ids.ops->random, "ids");
    REQUIRE(d->hasher.ops != NULL && d->hasher.ops->sha256, "hasher");
    return fv_liveness_validate(&d->liveness, err);
}
