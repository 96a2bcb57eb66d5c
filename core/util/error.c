/* Names, default texts and the message buffer of the domain error table. */
#include "core/util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *fv_err_name(fv_err e)
{
    switch (e) {
    case FV_OK:
        return "OK";
#define FV_ERR_NAME(suffix, value, name, msg)                                                      \
    case FV_E_##suffix:                                                                            \
        return name;
        FV_ERR_MAP(FV_ERR_NAME)
#undef FV_ERR_NAME
    }
    return "UNKNOWN";
}

const char *fv_strerror(fv_err e)
{
    switch (e) {
    case FV_OK:
        return "success";
#define FV_ERR_MSG(suffix, value, name, msg)                                                       \
    case FV_E_##suffix:                                                                            \
        return msg;
        FV_ERR_MAP(FV_ERR_MSG)
#undef FV_ERR_MSG
    }
    return "unknown error";
}

bool fv_err_is_client(fv_err e)
{
    switch (e) {
    case FV_E_INVALID:
    case FV_E_NOT_FOUND:
    case FV_E_CONFLICT:
    case FV_E_PRECONDITION:
    case FV_E_ABORTED:
    case FV_E_UNAUTHENTICATED:
    case FV_E_PERMISSION:
        return true;
    case FV_OK:
    case FV_E_EXHAUSTED:
    case FV_E_UNAVAILABLE:
    case FV_E_TIMEOUT:
    case FV_E_INTERNAL:
        return false;
    }
    return false;
}

fv_err fv_error_set(fv_error *err, fv_err code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->msg[0] = '\0';
    } else if ((size_t)n >= sizeof err->msg) {
        /* Truncated: step back over a cut multi-byte UTF-8 sequence. */
        size_t len = sizeof err->msg - 1;
        size_t i = len;
        while (i > 0 && ((unsigned char)err->msg[i - 1] & 0xC0) == 0x80)
            i--;
        if (i > 0 && ((unsigned char)err->msg[i - 1] & 0x80)) {
            unsigned char lead = (unsigned char)err->msg[i - 1];
            size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (len - (i - 1) < want)
                len = i - 1;
        }
        err->msg[len] = '\0';
    }
    return code;
}

void fv_error_clear(fv_error *err)
{
    if (err == NULL)
        return;
    err->code = FV_OK;
    err->msg[0] = '\0';
}

const char *fv_error_message(const fv_error *err, fv_err code)
{
    if (err != NULL && err->msg[0] != '\0')
        return err->msg;
    return fv_strerror(code);
}
