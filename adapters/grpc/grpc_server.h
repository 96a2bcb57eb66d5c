/*
 * The generic gRPC server machinery on the gRPC C core 1.51: one completion
 * queue served by a small pool of threads, a table of unary methods, and call
 * contexts that a handler completes at once or parks and completes later from
 * any thread (the long poll of PollTask). Nothing here knows a flovyn
 * message: a service is a set of handlers that receive request bytes and
 * answer with response bytes or a status.
 *
 * What the machinery does for every service (STYLE.md section 3.1):
 *   - keeps several requests armed per method and re-arms on each arrival;
 *   - answers calls to unregistered methods UNIMPLEMENTED (they never hang);
 *   - answers a unary call that carries no request message UNIMPLEMENTED
 *     (a cardinality violation, doc/statuscodes.md) without calling the
 *     handler; a second request message on a unary call is not detected;
 *   - lets the core library answer an over-limit message RESOURCE_EXHAUSTED
 *     (the handler never sees it);
 *   - watches every call for cancellation (client cancel, deadline, broken
 *     connection) and tells the owner of a parked call through its hook;
 *   - stops in the strict order of STYLE.md 3.1.12.
 *
 * Library lifetime: the caller (app/) calls grpc_init() before
 * fv_grpc_server_new() and grpc_shutdown() (or grpc_shutdown_blocking()) after
 * fv_grpc_server_free() (STYLE.md rule 24). Block the signals the process
 * handles (SIGINT, SIGTERM) before grpc_init(): the threads gRPC and this
 * module start inherit the signal mask of their creator.
 *
 * Threading: handlers run on the completion-queue threads and must not block
 * for long (a blocked handler holds one of cq_threads threads); park the call
 * instead. fv_grpc_call_reply/fail/fail_err and fv_grpc_call_on_cancel may be
 * called from any thread. The other fv_grpc_call_* accessors and the call's
 * arena belong to the call's current owner: the handler while it runs, then
 * whoever holds a parked call; one thread at a time.
 */
#ifndef FV_ADAPTERS_GRPC_GRPC_SERVER_H
#define FV_ADAPTERS_GRPC_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>

#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_grpc_server fv_grpc_server;

/* One incoming unary call, from its arrival until it is completed and every
 * gRPC operation on it has finished. Opaque. */
typedef struct fv_grpc_call fv_grpc_call;

/*
 * A method handler. It owns `call` from the moment it is invoked and must
 * complete it exactly once, either before returning or later from any thread
 * (then it parks the call: keeps the pointer somewhere, registers a cancel
 * hook with fv_grpc_call_on_cancel, and returns). `user` is the method's
 * user pointer from the table.
 */
typedef void (*fv_grpc_handler_fn)(fv_grpc_call *call, void *user);

/* One row of the method table. */
typedef struct fv_grpc_method {
    /* "/package.Service/Method"; copied by fv_grpc_server_new. */
    const char *path;
    fv_grpc_handler_fn handler;
    /* Passed to the handler; borrowed, must outlive the server. */
    void *user;
} fv_grpc_method;

/* Why a cancel hook runs. */
typedef enum fv_grpc_cancel_reason {
    /* The client cancelled, its deadline passed or the connection broke.
     * Nothing more reaches the client; the reply or status given when the
     * call is completed is dropped. */
    FV_GRPC_CANCEL_CLIENT,
    /* fv_grpc_server_stop is draining parked calls: complete the call now;
     * the answer still reaches the client (a long poll answers "nothing",
     * anything else typically fails with GRPC_STATUS_UNAVAILABLE). */
    FV_GRPC_CANCEL_SHUTDOWN
} fv_grpc_cancel_reason;

/*
 * A cancel hook (see fv_grpc_call_on_cancel). It runs at most once per call,
 * on a completion-queue thread or on the thread inside fv_grpc_server_stop,
 * never after the call was completed, and with no lock of this module held:
 * it may complete the call itself. It must not block for long.
 */
typedef void (*fv_grpc_cancel_fn)(fv_grpc_call *call, fv_grpc_cancel_reason why, void *user);

typedef enum fv_grpc_log_level {
    FV_GRPC_LOG_ERROR,
    FV_GRPC_LOG_WARN,
    FV_GRPC_LOG_INFO,
    FV_GRPC_LOG_DEBUG
} fv_grpc_log_level;

/* Where the machinery reports what it cannot return (failed batches, out of
 * memory at a call's arrival, a forced shutdown). `msg` is borrowed for the
 * duration of the call. Called from any thread, concurrently. */
typedef void (*fv_grpc_log_fn)(void *user, fv_grpc_log_level level, const char *msg);

/* fv_grpc_observe_fn's method index of a call to an unregistered method. */
#define FV_GRPC_METHOD_UNKNOWN SIZE_MAX

/*
 * An observer of completed calls (metrics), called exactly once per call
 * that was answered or dropped: `method` is the call's row in
 * fv_grpc_server_config.methods, or FV_GRPC_METHOD_UNKNOWN with `path`
 * "unknown" for an unregistered method (the client's path is not passed on:
 * it would make label sets unbounded); `path` is borrowed for the duration of
 * the call. `code` is the status sent: the handler's, INTERNAL when gRPC
 * refused the answer, CANCELLED when the client had gone (nothing sent),
 * RESOURCE_EXHAUSTED when no memory was left for the call. `seconds` runs
 * from the call's arrival to its completion. Called on the completing thread
 * (a completion-queue thread, or whoever completes a parked call) with no
 * lock of this module held, concurrently: it must be cheap and must not
 * block.
 */
typedef void (*fv_grpc_observe_fn)(void *user, size_t method, const char *path,
                                   grpc_status_code code, double seconds);

/* Zero-initialise, then set what you need; 0 / NULL means the default. */
typedef struct fv_grpc_server_config {
    /* "HOST:PORT", e.g. "127.0.0.1:9090"; port 0 picks a free port (read it
     * back with fv_grpc_server_port). Required. Plaintext HTTP/2 (h2c). */
    const char *listen;
    /* Threads serving the completion queue. Default 2. */
    int cq_threads;
    /* Largest request message accepted, in bytes; larger ones are answered
     * RESOURCE_EXHAUSTED by the core library. Default 4 MiB. */
    int max_receive_bytes;
    /* Requests kept armed per method (a burst of new calls beyond this waits
     * one completion-queue round trip). Default 32. */
    int requests_per_method;
    /* Requests kept armed for unregistered methods. Default 4. */
    int unknown_requests;
    /* How long fv_grpc_server_stop lets in-flight calls finish before it
     * cancels them all, in ms. Default 5000. */
    int shutdown_grace_ms;
    /* Size cap of each call's arena. Default FV_ARENA_DEFAULT_CAP. */
    size_t arena_cap;
    /* The methods; all registered before the server starts. Paths must be
     * distinct. n_methods may be 0 (every call is then UNIMPLEMENTED). */
    const fv_grpc_method *methods;
    size_t n_methods;
    /* Optional log sink; NULL = silent. */
    fv_grpc_log_fn log;
    void *log_user;
    /* Optional observer of completed calls; NULL = none (no clock read). */
    fv_grpc_observe_fn observe;
    void *observe_user;
} fv_grpc_server_config;

/*
 * Create the server, register the methods, bind, start the completion-queue
 * threads and start serving. grpc_init() must have been called.
 *
 * Returns a new server (release with fv_grpc_server_free), or NULL with err
 * (optional) set to:
 *   FV_E_INVALID      bad configuration (no listen address, a method with no
 *                     handler or a path not starting with '/', a duplicate
 *                     path, a negative count);
 *   FV_E_UNAVAILABLE  could not bind the listen address;
 *   FV_E_EXHAUSTED    out of memory or threads.
 * cfg and the strings in it are borrowed for the duration of the call only.
 */
fv_grpc_server *fv_grpc_server_new(const fv_grpc_server_config *cfg, fv_error *err);

/* The bound TCP port (useful with port 0). */
int fv_grpc_server_port(const fv_grpc_server *srv);

/*
 * Stop serving, blocking until done: refuse new calls; run the cancel hook of
 * every parked call with FV_GRPC_CANCEL_SHUTDOWN (a call parked during the
 * stop is refused by fv_grpc_call_on_cancel); wait up to shutdown_grace_ms
 * for in-flight calls to complete, then cancel them all (their hooks run with
 * FV_GRPC_CANCEL_CLIENT) and wait for their owners to complete them; destroy
 * the server; shut down and drain the completion queue; join its threads.
 *
 * A call that is never completed blocks this function forever: every parked
 * call needs a cancel hook or an owner that completes it in bounded time.
 * Idempotent; call it from one thread, never from a handler or a hook.
 */
void fv_grpc_server_stop(fv_grpc_server *srv);

/* Stop (if not yet stopped) and release the server. NULL-safe. */
void fv_grpc_server_free(fv_grpc_server *srv);

/* Monotonic clock in ms, the clock of fv_grpc_call_deadline_ms. */
int64_t fv_grpc_monotonic_ms(void);

/* ---- The call, for handlers and owners of parked calls ----------------- */

/* The method path ("/pkg.Service/Method"); borrowed, valid for the call's
 * life. */
const char *fv_grpc_call_method(const fv_grpc_call *call);

/* The request message: *n bytes, never NULL (an empty message gives a valid
 * pointer and *n == 0). Borrowed, valid until the call is completed. The bytes
 * are undecoded: malformed content is the service's business (answer it
 * INVALID_ARGUMENT or INTERNAL). */
const uint8_t *fv_grpc_call_request(const fv_grpc_call *call, size_t *n);

/* The first value of request metadata `key` (lower case, e.g.
 * "authorization"), as a NUL-terminated copy in the call's arena; NULL when
 * absent or when the arena is full (so a missing credential and an
 * unreadable one look alike: both are refused). For "-bin" keys the value
 * may contain NUL bytes: fv_grpc_call_metadata_n also stores the value's
 * length in *n (0 when it returns NULL; n may be NULL). */
const char *fv_grpc_call_metadata(fv_grpc_call *call, const char *key);
const char *fv_grpc_call_metadata_n(fv_grpc_call *call, const char *key, size_t *n);

/* The client's deadline on the fv_grpc_monotonic_ms clock; INT64_MAX when the
 * client set none. */
int64_t fv_grpc_call_deadline_ms(const fv_grpc_call *call);

/* The call's arena, released after the call is completed and gRPC is done
 * with it. Use it only while you own the call (not after completing it). */
fv_arena *fv_grpc_call_arena(fv_grpc_call *call);

/*
 * Register the cancel hook of a call about to be parked (one per call; a
 * second registration replaces the first). Returns true when registered: the
 * hook will run at most once, later, unless the call is completed first.
 * Returns false when the call was already cancelled or the server is
 * stopping: the hook is not registered and the caller must complete the call
 * now instead of parking it.
 *
 * A cancelled call must still be completed (reply or fail) exactly once, like
 * any other: that releases it, and nothing is sent. Usual pattern, with the
 * waiter list's lock L: park = lock L, insert, fv_grpc_call_on_cancel, unlock
 * (if it returned false: remove and complete); hook = lock L, remove if still
 * listed, unlock, complete if it was listed; wake-up = lock L, remove,
 * unlock, complete. Whoever removes the call completes it.
 */
bool fv_grpc_call_on_cancel(fv_grpc_call *call, fv_grpc_cancel_fn fn, void *user);

/* Whether the client side is known to be gone (cancel, deadline, network).
 * Any thread. */
bool fv_grpc_call_is_cancelled(fv_grpc_call *call);

/* Trailing metadata entries an answer may carry. */
#define FV_GRPC_TRAILERS_MAX 4

/*
 * Add one trailing metadata entry to the answer, sent with the status when
 * the call is completed (reply or fail). Only by the call's owner, before it
 * completes the call. `key` is lower-case [a-z0-9-_.], not "grpc-..." and not
 * "...-bin"; `value` printable ASCII (both copied into the call's arena).
 * FV_E_INVALID for a key or value gRPC would refuse, FV_E_EXHAUSTED beyond
 * FV_GRPC_TRAILERS_MAX entries or when the arena is full; the answer is
 * then sent without it.
 */
fv_err fv_grpc_call_add_trailer(fv_grpc_call *call, const char *key, const char *value);

/*
 * Complete the call. Each call is completed exactly once, by exactly one of
 * these, from any thread; afterwards `call` (and everything borrowed from it,
 * its arena included) must not be touched: the machinery releases it when
 * gRPC is done.
 *
 * fv_grpc_call_reply sends status OK with the n response bytes (copied;
 * bytes may be NULL when n == 0). fv_grpc_call_fail sends `code` (not
 * GRPC_STATUS_OK, which is logged and sent as INTERNAL) with `message` as the
 * status details (copied; NULL = none; client-facing, so no internals).
 * fv_grpc_call_fail_err maps a domain error with fv_grpc_status_from_err; a
 * NULL message then sends fv_strerror(code). The copies are gRPC slices
 * (gpr_malloc, which aborts rather than fail).
 *
 * Returns FV_OK when the answer was handed to gRPC (delivery is not
 * confirmed: the client may still vanish); FV_E_UNAVAILABLE when the call had
 * been cancelled (nothing sent); FV_E_INTERNAL when gRPC refused the batch
 * (logged, the call is cancelled). In every case the call is released.
 */
fv_err fv_grpc_call_reply(fv_grpc_call *call, const uint8_t *bytes, size_t n);
fv_err fv_grpc_call_fail(fv_grpc_call *call, grpc_status_code code, const char *message);
fv_err fv_grpc_call_fail_err(fv_grpc_call *call, fv_err code, const char *message);

#endif
