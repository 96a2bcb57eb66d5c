/*
 * The event bus on PostgreSQL (ports/event_bus.h): notices cross every
 * process that shares the database through LISTEN/NOTIFY on one channel
 * (flovyn_tasks), so a task submitted through one server wakes a poll
 * parked on another.
 *
 * - publish only queues the notice (no I/O on the caller's thread): a
 *   bounded queue in memory (QUEUE_BYTES in pg_bus.c: 7,000 to 13,000
 *   notices). A sender thread, woken by the first notice queued, takes
 *   everything queued and sends it in ONE statement (NotifyTasks: pg_notify
 *   over an array, one autocommit transaction whose commit does not wait for
 *   the WAL flush) on a connection of the shared pool; what was published
 *   meanwhile goes in the next batch. One sender, batches in order, so
 *   notices keep the publisher's order per process. PostgreSQL delivers
 *   them to every listener (this process included) at commit, and delivers
 *   a payload repeated within one batch once (the port allows coalescing).
 *   A full queue makes publish answer FV_E_EXHAUSTED (logged once until the
 *   sender drains it); a batch the database refuses is lost and logged once
 *   until one goes through (notices are best effort). Payloads are compact
 *   text: "Q <tenant> <queue>", "T <tenant> <task> <event id>", "R".
 * - A listener thread owns a connection of its own, opened from `conninfo`
 *   (a pool of one, never the shared pool): LISTEN, then it blocks in
 *   poll() on the connection's socket and on an eventfd that stops it, reads
 *   what arrives (PQconsumeInput, PQnotifies), parses it and calls every
 *   subscriber. Malformed payloads are logged and dropped.
 * - When that connection breaks (server restart, terminated backend), the
 *   thread logs it, reconnects with a backoff doubling from 100 ms to 5 s,
 *   LISTENs again and then calls every subscriber with FV_BUS_RESYNC
 *   (notices of the gap are lost; subscribers look again). A silent network
 *   partition is noticed only by TCP keepalives (libpq's defaults).
 *
 * Subscribers (the scheme that gives unsubscribe its guarantee): the list
 * is guarded by a mutex that is never held while a callback runs. The
 * listener thread marks the subscriber whose callback it is about to call
 * as running (under the mutex), calls it unlocked, and clears the mark
 * (under the mutex, waking waiters). unsubscribe takes the mutex, waits on
 * a condition variable while its subscriber is the running one, then
 * unlinks and frees it: once unsubscribe returns, the callback is not
 * running and the thread cannot reach it any more. Callbacks may subscribe,
 * publish, and unsubscribe other subscribers; a callback that unsubscribes
 * itself (forbidden by the port, but harmless here) is unlinked after it
 * returns.
 */
#ifndef FV_ADAPTERS_POSTGRES_PG_BUS_H
#define FV_ADAPTERS_POSTGRES_PG_BUS_H

#include "adapters/postgres/pg.h"
#include "core/util/error.h"
#include "ports/event_bus.h"

typedef struct fv_pg_bus fv_pg_bus;

/*
 * A bus sending its notices on `pool` (borrowed: it must outlive the bus) and
 * listening on a connection of its own to `conninfo` (libpq URL or
 * key=value string; copied), LISTENing before this returns, so every notice
 * published after it returns is received. `log` (optional) gets the
 * listener's losses, reconnections and dropped payloads, from the listener
 * thread, and the sender's lost batches and full queue, from the sender or
 * a publisher; its text never holds a password. NULL with FV_E_INVALID (no pool
 * or conninfo), FV_E_UNAVAILABLE (cannot connect or LISTEN), FV_E_EXHAUSTED
 * (memory, thread). Requires migration 0004 (fv_listen_tasks). The caller
 * owns the bus and releases it with fv_pg_bus_free.
 */
fv_pg_bus *fv_pg_bus_new(fv_pg_pool *pool, const char *conninfo, fv_pg_log_fn log, void *log_user,
                         fv_error *err);

/* Stop the listener thread (join it), close its connection, send what is
 * queued and stop the sender thread, and free every subscription left. No
 * port of the bus may be in use or used afterwards. NULL-safe. */
void fv_pg_bus_free(fv_pg_bus *b);

/* The port (valid while the bus lives; thread-safe). */
fv_event_bus fv_pg_event_bus(fv_pg_bus *b);

#endif
