/*
 * Internals of the task use cases shared with the task queries and jobs
 * (core/ only; driving adapters never include this).
 */
#ifndef FV_CORE_USECASES_TASK_USECASES_INT_H
#define FV_CORE_USECASES_TASK_USECASES_INT_H

#include <stdint.h>

#include "core/deps.h"
#include "core/task.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* FV_OK when the bundle serves task executions, else FV_E_UNAVAILABLE "task
 * executions are not configured". */
fv_err fv__tasks_unavailable(const fv_deps *d, fv_error *err);

/* Bus notices (a failed publish is a lost notice, never an error): a queue
 * wake-up; new events of a task up to event_id (nothing when <= 0); and what
 * follows an attempt end or a cancel of t (its events, and a queue wake-up
 * when it went back to PENDING). */
void fv__task_notify_queue(const fv_deps *d, const fv_uuid *tenant, const char *queue);
void fv__task_notify_events(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                            int64_t event_id);
void fv__task_notify_after(const fv_deps *d, const fv_task *t);

/* End the RUNNING attempt through the repository and publish the notices.
 * out and tr may be NULL. Errors of end_attempt pass through. */
fv_err fv__task_end_attempt(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            const fv_attempt_outcome *o, fv_task *out, fv_task_transition *tr,
                            fv_error *err);

/* A worker's error text as stored: cut to FV_TASK_ERROR_MAX bytes at a
 * character boundary, bytes that are not UTF-8 replaced by U+FFFD. In `a`;
 * NULL when the arena is full. */
char *fv__task_error_text(fv_arena *a, const char *error);

#endif
