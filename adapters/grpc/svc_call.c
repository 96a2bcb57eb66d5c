/* The per-call plumbing of the flovyn.v1 services (see svc_call.h). */
#include "adapters/grpc/svc_call.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void log_failure(fv_grpc_call *call, fv_grpc_log_fn log, void *log_user,
                        fv_grpc_log_level level, fv_err rc, const fv_error *err)
{
    if (log == NULL)
        return;
    char line[512];
    snprintf(line, sizeof line, "%s failed: %s: %s", fv_grpc_call_method(call), fv_err_name(rc),
             err != NULL && err->msg[0] != '\0' ? err->msg : fv_strerror(rc));
    log(log_user, level, line);
}

void fv_svc_fail_call(fv_grpc_call *call, fv_grpc_log_fn log, void *log_user, fv_err rc,
                      const fv_error *err)
{
    if (rc == FV_OK) {
        /* A caller bug: never answer OK through the failure path. */
        log_failure(call, log, log_user, FV_GRPC_LOG_ERROR, FV_E_INTERNAL, err);
        fv_grpc_call_fail_err(call, FV_E_INTERNAL, NULL);
        return;
    }
    if (fv_err_is_client(rc)) {
        fv_grpc_call_fail_err(call, rc, err != NULL && err->msg[0] != '\0' ? err->msg : NULL);
        return;
    }
    /* A failure of the server or its storage, logged with its detail and
     * answered with the code's generic text: a warning when it may pass
     * (resources, storage, deadline), else an error answered INTERNAL (also
     * for a value outside the table). */
    bool passing = rc == FV_E_EXHAUSTED || rc == FV_E_UNAVAILABLE || rc == FV_E_TIMEOUT;
    log_failure(call, log, log_user, passing ? FV_GRPC_LOG_WARN : FV_GRPC_LOG_ERROR, rc, err);
    fv_grpc_call_fail_err(call, passing ? rc : FV_E_INTERNAL, NULL);
}

void fv_svc_fail(fv_svc_call *c, fv_err rc, const fv_error *err)
{
    fv_svc_fail_call(c->call, c->svc->log, c->svc->log_user, rc, err);
}

bool fv_svc_begin(fv_svc_call *c, fv_grpc_call *call, void *user, unsigned roles)
{
    memset(c, 0, sizeof *c);
    c->call = call;
    c->svc = user;
    c->arena = fv_grpc_call_arena(call);
    fv_error err = {0};
    const char *auth = fv_grpc_call_metadata(call, "authorization");
    fv_err rc = fv_authenticate(c->svc->deps, c->arena, auth, &c->who, &err);
    if (rc == FV_OK)
        rc = fv_authorize_role(&c->who, roles, &err);
    if (rc != FV_OK) {
        fv_svc_fail(c, rc, &err);
        return false;
    }
    return true;
}

static void *arena_alloc(void *data, size_t n)
{
    return fv_arena_alloc(data, n == 0 ? 1 : n);
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released with the call's arena */
}

/* Read a varint at p[*i..n); false when truncated or longer than 10 bytes. */
static bool wire_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *i < n; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

/*
 * The name of the first string field of the wire bytes that holds a NUL
 * byte, or NULL; a nested field is named by its path from the request
 * ("metadata.value", in arena `a`; the outer name alone when that fails).
 * protobuf-c hands strings over NUL-terminated, so such a value would reach
 * the core silently cut at the NUL ("a\0b" read as "a"): it must be refused
 * instead. Walks the bytes with the message's descriptor, into nested
 * messages (map entries included) up to a fixed depth; runs only on bytes
 * protobuf-c has just decoded, so they are well-formed.
 */
static const char *wire_nul_string(fv_arena *a, const ProtobufCMessageDescriptor *d,
                                   const uint8_t *p, size_t n, int depth)
{
    size_t i = 0;
    while (i < n) {
        uint64_t key, len;
        if (!wire_varint(p, n, &i, &key))
            return NULL;
        switch (key & 7) {
        case 0:
            if (!wire_varint(p, n, &i, &len))
                return NULL;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2: {
            if (!wire_varint(p, n, &i, &len) || len > n - i)
                return NULL;
            const ProtobufCFieldDescriptor *f =
                key >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                    : NULL;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + i, 0, len) != NULL)
                return f->name;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 16) {
                const char *inner =
                    wire_nul_string(a, f->descriptor, p + i, (size_t)len, depth + 1);
                if (inner != NULL) {
                    const char *path = fv_arena_printf(a, "%s.%s", f->name, inner);
                    return path != NULL ? path : f->name;
                }
            }
            i += (size_t)len;
            break;
        }
        default:
            return NULL;
        }
    }
    return NULL;
}

void *fv_svc_decode(fv_svc_call *c, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCAllocator arena_allocator = {
        .alloc = arena_alloc, .free = arena_free, .allocator_data = c->arena};
    size_t n = 0;
    const uint8_t *bytes = fv_grpc_call_request(c->call, &n);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &arena_allocator, n, bytes);
    if (m == NULL) {
        fv_error err;
        fv_error_set(&err, FV_E_INVALID, "could not decode the request as %s", desc->name);
        fv_svc_fail(c, FV_E_INVALID, &err);
        return NULL;
    }
    const char *nul = wire_nul_string(c->arena, desc, bytes, n, 0);
    if (nul != NULL) {
        fv_error err;
        fv_error_set(&err, FV_E_INVALID, "%s contains a NUL byte", nul);
        fv_svc_fail(c, FV_E_INVALID, &err);
        return NULL;
    }
    return m;
}

bool fv_svc_check_org(fv_svc_call *c, const char *org_id, fv_uuid *tenant)
{
    fv_error err = {0};
    fv_err rc = FV_OK;
    if (org_id == NULL || !fv_uuid_parse(org_id, strlen(org_id), tenant))
        rc = fv_error_set(&err, FV_E_INVALID, "org_id is not a valid UUID");
    else
        rc = fv_authorize_tenant(&c->who, tenant, &err);
    if (rc != FV_OK) {
        fv_svc_fail(c, rc, &err);
        return false;
    }
    return true;
}

void fv_svc_reply(fv_svc_call *c, const ProtobufCMessage *resp)
{
    size_t n = protobuf_c_message_get_packed_size(resp);
    uint8_t *buf = fv_arena_alloc(c->arena, n == 0 ? 1 : n);
    if (buf == NULL) {
        fv_error err;
        fv_error_set(&err, FV_E_EXHAUSTED, "out of memory encoding the answer (%zu bytes)", n);
        fv_svc_fail(c, FV_E_EXHAUSTED, &err);
        return;
    }
    size_t packed = protobuf_c_message_pack(resp, buf);
    fv_grpc_call_reply(c->call, buf, packed);
}
