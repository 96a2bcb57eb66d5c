/* Unit tests of core/util: arena, errors, allocator, UUID, time, UTF-8, semver. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/semver.h"
#include "core/util/time.h"
#include "core/util/utf8.h"
#include "core/util/uuid.h"
#include "tests/support/cunit_main.h"

/* ------------------------------------------------------------------------
 * Arena
 */

static void test_arena__alignment(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    static const size_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 100, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = fv_arena_alloc(&a, sizes[i]);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT((uintptr_t)p % alignof(max_align_t) == 0);
        memset(p, 0xAB, sizes[i]);
    }
    long double *ld = fv_arena_alloc(&a, sizeof *ld);
    CU_ASSERT_FATAL(ld != NULL);
    *ld = 1.5L;
    CU_ASSERT(*ld == 1.5L);
    fv_arena_release(&a);
}

static void test_arena__zero_size_gives_unique_pointers(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    void *p = fv_arena_alloc(&a, 0);
    void *q = fv_arena_alloc(&a, 0);
    CU_ASSERT(p != NULL && q != NULL);
    CU_ASSERT(p != q);
    fv_arena_release(&a);
}

/* Many small blocks spanning several chunks all keep their contents. */
static void test_arena__growth_across_chunks(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    enum { N = 2000, SZ = 100 };
    unsigned char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = fv_arena_alloc(&a, SZ);
        CU_ASSERT_FATAL(blocks[i] != NULL);
        memset(blocks[i], i & 0xFF, SZ);
    }
    CU_ASSERT(fv_arena_reserved(&a) >= (size_t)N * SZ);
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < SZ; k++)
            if (blocks[i][k] != (unsigned char)(i & 0xFF))
                bad++;
    FV_ASSERT_INT_EQ(bad, 0);
    /* Blocks never overlap. */
    for (int i = 1; i < N; i++)
        CU_ASSERT(blocks[i] != blocks[i - 1]);
    fv_arena_release(&a);
    FV_ASSERT_INT_EQ(fv_arena_reserved(&a), 0);
}

/* A block larger than any chunk is served, and small blocks around it stay. */
static void test_arena__large_blocks(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *small1 = fv_arena_strdup(&a, "before");
    size_t big_n = (size_t)4 * 1024 * 1024;
    unsigned char *big = fv_arena_alloc(&a, big_n);
    CU_ASSERT_FATAL(big != NULL && small1 != NULL);
    memset(big, 0x5A, big_n);
    char *small2 = fv_arena_strdup(&a, "after");
    CU_ASSERT_FATAL(small2 != NULL);
    CU_ASSERT(big[0] == 0x5A && big[big_n - 1] == 0x5A);
    FV_ASSERT_STR_EQ(small1, "before");
    FV_ASSERT_STR_EQ(small2, "after");
    CU_ASSERT(fv_arena_reserved(&a) >= big_n);
    fv_arena_release(&a);
}

/* The cap is never exceeded; an allocation beyond it returns NULL and the
 * arena stays usable. */
static void test_arena__cap_enforced(void)
{
    fv_arena a;
    fv_arena_init(&a, 1024);
    void *p = fv_arena_alloc(&a, 512);
    CU_ASSERT(p != NULL);
    CU_ASSERT(fv_arena_alloc(&a, 4096) == NULL);
    CU_ASSERT(fv_arena_reserved(&a) <= 1024);
    void *q = fv_arena_alloc(&a, 64);
    CU_ASSERT(q != NULL);
    size_t total = 0;
    while (fv_arena_alloc(&a, 16) != NULL && total < 100000)
        total += 16;
    CU_ASSERT(total < 1024);
    CU_ASSERT(fv_arena_reserved(&a) <= 1024);
    CU_ASSERT(fv_arena_strdup(&a, "does this fit? it must not, the arena is full") == NULL);
    CU_ASSERT(fv_arena_printf(&a, "%s", "no room") == NULL);
    fv_arena_release(&a);

    fv_arena tiny;
    fv_arena_init(&tiny, 1);
    CU_ASSERT(fv_arena_alloc(&tiny, 1) == NULL);
    FV_ASSERT_INT_EQ(fv_arena_reserved(&tiny), 0);
    fv_arena_release(&tiny);
}

static void test_arena__calloc_zeroes_and_checks_overflow(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    /* Dirty a chunk, reset it, then calloc from the reused memory. */
    unsigned char *d = fv_arena_alloc(&a, 256);
    CU_ASSERT_FATAL(d != NULL);
    memset(d, 0xFF, 256);
    fv_arena_reset(&a);
    unsigned char *z = fv_arena_calloc(&a, 32, 8);
    CU_ASSERT_FATAL(z != NULL);
    int nonzero = 0;
    for (int i = 0; i < 256; i++)
        nonzero += z[i] != 0;
    FV_ASSERT_INT_EQ(nonzero, 0);
    CU_ASSERT(fv_arena_calloc(&a, SIZE_MAX / 2, 3) == NULL);
    CU_ASSERT(fv_arena_alloc(&a, SIZE_MAX) == NULL);
    fv_arena_release(&a);
}

static int order[8];
static int n_order;

static void record_cleanup(void *p)
{
    order[n_order++] = *(int *)p;
}

/* Cleanups run newest first, once, on release and on reset. */
static void test_arena__cleanups_run_in_reverse_order(void)
{
    static int ids[] = {1, 2, 3};
    fv_arena a;
    fv_arena_init(&a, 0);
    n_order = 0;
    for (int i = 0; i < 3; i++)
        CU_ASSERT(fv_arena_add_cleanup(&a, record_cleanup, &ids[i]));
    fv_arena_release(&a);
    FV_ASSERT_INT_EQ(n_order, 3);
    FV_ASSERT_INT_EQ(order[0], 3);
    FV_ASSERT_INT_EQ(order[1], 2);
    FV_ASSERT_INT_EQ(order[2], 1);
    fv_arena_release(&a); /* nothing left to run */
    FV_ASSERT_INT_EQ(n_order, 3);

    n_order = 0;
    CU_ASSERT(fv_arena_add_cleanup(&a, record_cleanup, &ids[0]));
    CU_ASSERT(fv_arena_add_cleanup(&a, record_cleanup, &ids[1]));
    fv_arena_reset(&a);
    FV_ASSERT_INT_EQ(n_order, 2);
    FV_ASSERT_INT_EQ(order[0], 2);
    FV_ASSERT_INT_EQ(order[1], 1);
    CU_ASSERT(fv_arena_add_cleanup(&a, record_cleanup, &ids[2]));
    fv_arena_release(&a);
    FV_ASSERT_INT_EQ(n_order, 3);
    FV_ASSERT_INT_EQ(order[2], 3);
    fv_arena_release(NULL);
}

/* reset keeps one chunk: memory is reused and usage goes down. */
static void test_arena__reset_keeps_one_chunk(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_FATAL(fv_arena_alloc(&a, 200) != NULL);
    size_t before = fv_arena_reserved(&a);
    fv_arena_reset(&a);
    size_t after = fv_arena_reserved(&a);
    CU_ASSERT(after > 0);
    CU_ASSERT(after < before);
    char *s = fv_arena_strdup(&a, "reused");
    FV_ASSERT_STR_EQ(s, "reused");
    FV_ASSERT_INT_EQ(fv_arena_reserved(&a), after);
    fv_arena_release(&a);
}

static void test_arena__strdup_printf_memdup(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    FV_ASSERT_STR_EQ(fv_arena_strdup(&a, "hello"), "hello");
    CU_ASSERT(fv_arena_strdup(&a, NULL) == NULL);
    CU_ASSERT(fv_arena_strndup(&a, NULL, 3) == NULL);
    FV_ASSERT_STR_EQ(fv_arena_strndup(&a, "hello world", 5), "hello");
    FV_ASSERT_STR_EQ(fv_arena_strndup(&a, "", 0), "");
    char *p = fv_arena_printf(&a, "%d-%s-%05.1f", 42, "x", 3.14159);
    FV_ASSERT_STR_EQ(p, "42-x-003.1");
    char long_s[5000];
    memset(long_s, 'q', sizeof long_s - 1);
    long_s[sizeof long_s - 1] = '\0';
    char *l = fv_arena_printf(&a, "<%s>", long_s);
    CU_ASSERT_FATAL(l != NULL);
    FV_ASSERT_INT_EQ(strlen(l), sizeof long_s + 1);
    CU_ASSERT(l[0] == '<' && l[sizeof long_s] == '>');
    static const unsigned char bytes[] = {0, 1, 2, 0, 255};
    unsigned char *m = fv_arena_memdup(&a, bytes, sizeof bytes);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT(memcmp(m, bytes, sizeof bytes) == 0);
    CU_ASSERT(m != bytes);
    CU_ASSERT(fv_arena_memdup(&a, NULL, 4) == NULL);
    fv_arena_release(&a);
}

static void test_arena__grow_copies(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    int *v = fv_arena_alloc(&a, 4 * sizeof *v);
    CU_ASSERT_FATAL(v != NULL);
    for (int i = 0; i < 4; i++)
        v[i] = i * 11;
    int *w = fv_arena_grow(&a, v, 4 * sizeof *v, 10000 * sizeof *v);
    CU_ASSERT_FATAL(w != NULL);
    for (int i = 0; i < 4; i++)
        FV_ASSERT_INT_EQ(w[i], i * 11);
    w[9999] = 7;
    CU_ASSERT(fv_arena_grow(&a, w, 100, 50) == w); /* shrinking keeps the block */
    int *fresh = fv_arena_grow(&a, NULL, 0, 16);
    CU_ASSERT(fresh != NULL);
    fv_arena_release(&a);

    fv_arena capped;
    fv_arena_init(&capped, 256);
    char *s = fv_arena_strdup(&capped, "keep");
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(fv_arena_grow(&capped, s, 5, 100000) == NULL);
    FV_ASSERT_STR_EQ(s, "keep"); /* the old block stays valid */
    fv_arena_release(&capped);
}

/* ------------------------------------------------------------------------
 * Allocator and failure injection
 */

static void test_alloc__failure_injection(void)
{
    fv_alloc_fail_after(2);
    void *a = fv_malloc(8);
    void *b = fv_calloc(2, 8);
    void *c = fv_malloc(8);
    char *d = fv_strdup("x");
    fv_alloc_fail_reset();
    CU_ASSERT(a != NULL);
    CU_ASSERT(b != NULL);
    CU_ASSERT(c == NULL);
    CU_ASSERT(d == NULL);
    fv_free(a);
    fv_free(b);
    fv_free(NULL);

    fv_alloc_fail_after(0);
    CU_ASSERT(fv_malloc(1) == NULL);
    fv_alloc_fail_reset();
    void *keep = fv_malloc(16);
    CU_ASSERT_FATAL(keep != NULL);
    fv_alloc_fail_after(0);
    CU_ASSERT(fv_realloc(keep, 1 << 20) == NULL); /* keep is still ours */
    fv_alloc_fail_reset();
    fv_free(keep);

    fv_alloc_fail_after(-1); /* negative disables */
    char *e = fv_strndup("abcdef", 3);
    FV_ASSERT_STR_EQ(e, "abc");
    fv_free(e);
    char *f = fv_strdup("whole");
    FV_ASSERT_STR_EQ(f, "whole");
    fv_free(f);
}

/* Arenas see injected failures as "out of memory" and unwind cleanly. */
static void test_alloc__arena_under_failure(void)
{
    static int id = 9;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_alloc_fail_after(0);
    CU_ASSERT(fv_arena_alloc(&a, 10) == NULL);
    CU_ASSERT(fv_arena_strdup(&a, "x") == NULL);
    n_order = 0;
    CU_ASSERT(!fv_arena_add_cleanup(&a, record_cleanup, &id));
    fv_alloc_fail_reset();
    fv_arena_release(&a);
    FV_ASSERT_INT_EQ(n_order, 0); /* a cleanup that was refused never runs */

    /* Failing at each step of a growing workload never corrupts earlier data. */
    for (long n = 0; n < 6; n++) {
        fv_arena b;
        fv_arena_init(&b, 0);
        fv_alloc_fail_after(n);
        char *keep = NULL;
        int ok = 0;
        for (int i = 0; i < 100000; i++) {
            char *s = fv_arena_printf(&b, "item-%d", i);
            if (s == NULL)
                break;
            if (i == 0)
                keep = s;
            ok++;
        }
        fv_alloc_fail_reset();
        if (keep != NULL)
            FV_ASSERT_STR_EQ(keep, "item-0");
        CU_ASSERT(ok < 100000);
        fv_arena_release(&b);
    }
}

/* ------------------------------------------------------------------------
 * Error table
 */

static void test_error__table(void)
{
    FV_ASSERT_INT_EQ(FV_OK, 0);
    FV_ASSERT_STR_EQ(fv_err_name(FV_OK), "OK");
    struct {
        fv_err e;
        const char *name;
    } all[] = {
#define FV_T_ROW(suffix, value, name, msg) {FV_E_##suffix, name},
        FV_ERR_MAP(FV_T_ROW)
#undef FV_T_ROW
    };
    size_t n = sizeof all / sizeof all[0];
    FV_ASSERT_INT_EQ(n, FV_ERR_COUNT);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(all[i].e < 0);
        FV_ASSERT_STR_EQ(fv_err_name(all[i].e), all[i].name);
        const char *msg = fv_strerror(all[i].e);
        CU_ASSERT(msg != NULL && msg[0] != '\0');
        for (size_t j = 0; j < i; j++) {
            CU_ASSERT(all[i].e != all[j].e);
            CU_ASSERT(strcmp(all[i].name, all[j].name) != 0);
        }
    }
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_INVALID), "INVALID_ARGUMENT");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_NOT_FOUND), "NOT_FOUND");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_CONFLICT), "ALREADY_EXISTS");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_PRECONDITION), "FAILED_PRECONDITION");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_ABORTED), "ABORTED");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_UNAUTHENTICATED), "UNAUTHENTICATED");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_PERMISSION), "PERMISSION_DENIED");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_EXHAUSTED), "RESOURCE_EXHAUSTED");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_UNAVAILABLE), "UNAVAILABLE");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_TIMEOUT), "DEADLINE_EXCEEDED");
    FV_ASSERT_STR_EQ(fv_err_name(FV_E_INTERNAL), "INTERNAL");
    FV_ASSERT_STR_EQ(fv_err_name((fv_err)-999), "UNKNOWN");
    FV_ASSERT_STR_EQ(fv_err_name((fv_err)7), "UNKNOWN");
    CU_ASSERT(fv_strerror((fv_err)-999) != NULL);
}

static void test_error__set_formats_and_returns_code(void)
{
    fv_error err;
    fv_error_clear(&err);
    FV_ASSERT_INT_EQ(err.code, FV_OK);
    FV_ASSERT_STR_EQ(err.msg, "");
    fv_err rc = fv_error_set(&err, FV_E_NOT_FOUND, "worker \"%s\" not found (%d)", "w-1", 7);
    FV_ASSERT_INT_EQ(rc, FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(err.code, FV_E_NOT_FOUND);
    FV_ASSERT_STR_EQ(err.msg, "worker \"w-1\" not found (7)");
    FV_ASSERT_STR_EQ(fv_error_message(&err, FV_E_NOT_FOUND), "worker \"w-1\" not found (7)");
    fv_error_clear(&err);
    FV_ASSERT_STR_EQ(fv_error_message(&err, FV_E_CONFLICT), fv_strerror(FV_E_CONFLICT));
    FV_ASSERT_STR_EQ(fv_error_message(NULL, FV_E_TIMEOUT), fv_strerror(FV_E_TIMEOUT));
    /* NULL err: the code still comes back. */
    FV_ASSERT_INT_EQ(fv_error_set(NULL, FV_E_INVALID, "ignored %d", 1), FV_E_INVALID);
    fv_error_clear(NULL);
}

static int utf8_prefix_ok(const char *msg, const char *full)
{
    size_t n = strlen(msg);
    return n <= FV_ERROR_MSG_MAX - 1 && strncmp(msg, full, n) == 0 && fv_utf8_valid(msg, n);
}

/* Long messages are cut below the buffer size on a character boundary. */
static void test_error__truncation_is_utf8_safe(void)
{
    static const char *const chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    char full[1024];
    fv_error err;
    for (size_t c = 0; c < 3; c++) {
        size_t clen = strlen(chars[c]);
        for (size_t lead = FV_ERROR_MSG_MAX - 8; lead < FV_ERROR_MSG_MAX + 2; lead++) {
            memset(full, 'a', lead);
            size_t n = lead;
            while (n + clen < sizeof full - 1) {
                memcpy(full + n, chars[c], clen);
                n += clen;
            }
            full[n] = '\0';
            fv_error_set(&err, FV_E_INVALID, "%s", full);
            size_t got = strlen(err.msg);
            CU_ASSERT(utf8_prefix_ok(err.msg, full));
            CU_ASSERT(got + clen >= FV_ERROR_MSG_MAX - 1); /* cut at most one character */
        }
    }
    /* Exactly at the limit: nothing is cut. */
    memset(full, 'b', FV_ERROR_MSG_MAX - 1);
    full[FV_ERROR_MSG_MAX - 1] = '\0';
    fv_error_set(&err, FV_E_INVALID, "%s", full);
    FV_ASSERT_INT_EQ(strlen(err.msg), FV_ERROR_MSG_MAX - 1);
    /* One 2-byte character straddling the end is dropped whole. */
    memset(full, 'c', FV_ERROR_MSG_MAX - 2);
    memcpy(full + FV_ERROR_MSG_MAX - 2, "\xC3\xA9", 3);
    fv_error_set(&err, FV_E_INVALID, "%s", full);
    FV_ASSERT_INT_EQ(strlen(err.msg), FV_ERROR_MSG_MAX - 2);
}

/* ------------------------------------------------------------------------
 * UUID
 */

static const char uuid_text[] = "123e4567-e89b-12d3-a456-426614174000";

static void test_uuid__parse_and_format_round_trip(void)
{
    fv_uuid u;
    CU_ASSERT_FATAL(fv_uuid_parse(uuid_text, strlen(uuid_text), &u));
    FV_ASSERT_INT_EQ(u.b[0], 0x12);
    FV_ASSERT_INT_EQ(u.b[1], 0x3e);
    FV_ASSERT_INT_EQ(u.b[15], 0x00);
    FV_ASSERT_INT_EQ(u.b[14], 0x40);
    char out[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&u, out);
    FV_ASSERT_STR_EQ(out, uuid_text);
    fv_uuid upper;
    const char *up = "123E4567-E89B-12D3-A456-426614174000";
    CU_ASSERT_FATAL(fv_uuid_parse(up, strlen(up), &upper));
    CU_ASSERT(fv_uuid_eq(&u, &upper));
    fv_uuid_format(&upper, out);
    FV_ASSERT_STR_EQ(out, uuid_text); /* output is lower case */
    fv_arena a;
    fv_arena_init(&a, 0);
    FV_ASSERT_STR_EQ(fv_uuid_str(&a, &u), uuid_text);
    fv_arena_release(&a);
    /* Only n bytes are read. */
    char longer[64];
    memcpy(longer, uuid_text, FV_UUID_STR_LEN);
    memcpy(longer + FV_UUID_STR_LEN, "-trailing", sizeof "-trailing");
    CU_ASSERT(fv_uuid_parse(longer, FV_UUID_STR_LEN, &upper));
    CU_ASSERT(!fv_uuid_parse(longer, strlen(longer), &upper));
}

static void test_uuid__parse_rejects_invalid(void)
{
    static const char *const bad[] = {
        "",
        "123e4567-e89b-12d3-a456-42661417400",   /* 35 */
        "123e4567-e89b-12d3-a456-4266141740000", /* 37 */
        "123e4567-e89b-12d3-a456-42661417400g",  /* bad hex */
        "123e4567-e89b-12d3-a456_426614174000",  /* wrong separator */
        "123e4567e89b12d3a456426614174000",      /* no dashes */
        "123e4567e-89b-12d3-a456-426614174000",  /* dash moved */
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456-42661417400 ",
        " 23e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-4266141740-0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fv_uuid u;
        memset(&u, 0xA5, sizeof u);
        CU_ASSERT(!fv_uuid_parse(bad[i], strlen(bad[i]), &u));
        int untouched = 1;
        for (int k = 0; k < 16; k++)
            untouched &= u.b[k] == 0xA5;
        CU_ASSERT(untouched);
    }
    fv_uuid u;
    CU_ASSERT(!fv_uuid_parse(NULL, 36, &u));
    char nul[37];
    memcpy(nul, uuid_text, 37);
    nul[10] = '\0';
    CU_ASSERT(!fv_uuid_parse(nul, 36, &u));
}

static void test_uuid__compare_and_nil(void)
{
    fv_uuid nil;
    memset(&nil, 0, sizeof nil);
    CU_ASSERT(fv_uuid_is_nil(&nil));
    char out[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&nil, out);
    FV_ASSERT_STR_EQ(out, "00000000-0000-0000-0000-000000000000");
    fv_uuid a, b;
    CU_ASSERT_FATAL(fv_uuid_parse(uuid_text, 36, &a));
    b = a;
    CU_ASSERT(!fv_uuid_is_nil(&a));
    CU_ASSERT(fv_uuid_eq(&a, &b));
    FV_ASSERT_INT_EQ(fv_uuid_cmp(&a, &b), 0);
    CU_ASSERT(fv_uuid_hash(&a) == fv_uuid_hash(&b));
    b.b[15] = 0x01;
    CU_ASSERT(!fv_uuid_eq(&a, &b));
    CU_ASSERT(fv_uuid_cmp(&a, &b) < 0);
    CU_ASSERT(fv_uuid_cmp(&b, &a) > 0);
    CU_ASSERT(fv_uuid_hash(&a) != fv_uuid_hash(&b));
    /* Byte order: the first byte weighs most. */
    fv_uuid hi = nil, lo = nil;
    hi.b[0] = 1;
    lo.b[15] = 0xFF;
    CU_ASSERT(fv_uuid_cmp(&lo, &hi) < 0);
    CU_ASSERT(fv_uuid_cmp(&nil, &lo) < 0);
}

/* ------------------------------------------------------------------------
 * Time
 */

static void expect_format(fv_time t, const char *want)
{
    char out[FV_TIME_STR_MAX];
    size_t n = fv_time_format(t, out);
    FV_ASSERT_STR_EQ(out, want);
    FV_ASSERT_INT_EQ(n, strlen(want));
}

static void test_time__format_known_instants(void)
{
    expect_format(0, "1970-01-01T00:00:00.000Z");
    expect_format(1, "1970-01-01T00:00:00.001Z");
    expect_format(951827696789, "2000-02-29T12:34:56.789Z");
    expect_format(1767225600000, "2026-01-01T00:00:00.000Z");
    expect_format(253402300799999, "9999-12-31T23:59:59.999Z");
    expect_format(-62167219200000, "0000-01-01T00:00:00.000Z");
}

static void test_time__format_negative_times(void)
{
    expect_format(-1, "1969-12-31T23:59:59.999Z");
    expect_format(-1000, "1969-12-31T23:59:59.000Z");
    expect_format(-86400000, "1969-12-31T00:00:00.000Z");
    expect_format(-31536000000, "1969-01-01T00:00:00.000Z");
    expect_format(-2208988800000, "1900-01-01T00:00:00.000Z");
    expect_format(-2203891200000, "1900-03-01T00:00:00.000Z"); /* 1900 is not a leap year */
    expect_format(-2203891200000 - 86400000, "1900-02-28T00:00:00.000Z");
}

static void test_time__format_none_and_out_of_range(void)
{
    char out[FV_TIME_STR_MAX];
    memset(out, 'x', sizeof out);
    FV_ASSERT_INT_EQ(fv_time_format(FV_TIME_NONE, out), 0);
    FV_ASSERT_STR_EQ(out, "");
    FV_ASSERT_INT_EQ(fv_time_format(253402300800000, out), 0); /* year 10000 */
    FV_ASSERT_INT_EQ(fv_time_format(-62167219200001, out), 0); /* year -1 */
    FV_ASSERT_INT_EQ(fv_time_format(INT64_MAX, out), 0);
}

static void expect_parse(const char *s, fv_time want)
{
    fv_time t = 12345;
    int ok = fv_time_parse(s, strlen(s), &t);
    CU_ASSERT(ok);
    if (ok)
        FV_ASSERT_INT_EQ(t, want);
}

static void test_time__parse_valid_forms(void)
{
    expect_parse("1970-01-01T00:00:00Z", 0);
    expect_parse("2026-01-01T00:00:00Z", 1767225600000);
    expect_parse("2026-01-01t00:00:00z", 1767225600000);
    expect_parse("2026-01-01T00:00:00.5Z", 1767225600500);
    expect_parse("2026-01-01T00:00:00.123Z", 1767225600123);
    expect_parse("2026-01-01T00:00:00.123456Z", 1767225600123);
    expect_parse("2026-01-01T02:00:00+02:00", 1767225600000);
    expect_parse("2025-12-31T18:30:00-05:30", 1767225600000);
    expect_parse("2026-01-01T00:00:00.250+00:00", 1767225600250);
    expect_parse("2000-02-29T12:34:56.789Z", 951827696789);
    expect_parse("1969-12-31T23:59:59.999Z", -1);
    /* Only n bytes count. */
    fv_time t;
    const char *s = "2026-01-01T00:00:00Zjunk";
    CU_ASSERT(fv_time_parse(s, 20, &t));
    CU_ASSERT(!fv_time_parse(s, strlen(s), &t));
}

static void test_time__parse_checks_leap_years(void)
{
    fv_time t;
    CU_ASSERT(!fv_time_parse("2023-02-29T00:00:00Z", 20, &t));
    CU_ASSERT(fv_time_parse("2024-02-29T00:00:00Z", 20, &t));
    CU_ASSERT(!fv_time_parse("1900-02-29T00:00:00Z", 20, &t));
    CU_ASSERT(fv_time_parse("2000-02-29T00:00:00Z", 20, &t));
    CU_ASSERT(!fv_time_parse("2024-02-30T00:00:00Z", 20, &t));
    CU_ASSERT(!fv_time_parse("2024-04-31T00:00:00Z", 20, &t));
    CU_ASSERT(fv_time_parse("2024-12-31T23:59:59Z", 20, &t));
}

static void test_time__parse_rejects_garbage(void)
{
    static const char *const bad[] = {
        "",
        "hello",
        "2026-01-01",
        "2026-01-01T00:00:00",       /* no zone */
        "2026-13-01T00:00:00Z",      /* month */
        "2026-00-01T00:00:00Z",      /* month */
        "2026-01-32T00:00:00Z",      /* day */
        "2026-01-00T00:00:00Z",      /* day */
        "2026-01-01T24:00:00Z",      /* hour */
        "2026-01-01T00:60:00Z",      /* minute */
        "2026-01-01T00:00:61Z",      /* second */
        "2026-01-01X00:00:00Z",      /* separator */
        "2026/01/01T00:00:00Z",      /* separator */
        "2026-01-01T00:00:00.Z",     /* empty fraction */
        "2026-01-01T00:00:00+2:00",  /* offset form */
        "2026-01-01T00:00:00+02",    /* offset form */
        "2026-01-01T00:00:00+24:00", /* offset hours */
        "2026-01-01T00:00:00+02:60", /* offset minutes */
        "2026-01-01T00:00:00Z ",     /* trailing */
        "20a6-01-01T00:00:00Z",      /* digit */
        "-026-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fv_time t = 777;
        CU_ASSERT(!fv_time_parse(bad[i], strlen(bad[i]), &t));
    }
    fv_time t;
    CU_ASSERT(!fv_time_parse(NULL, 20, &t));
}

static void test_time__format_parse_round_trip(void)
{
    static const fv_time samples[] = {0,  1,          999,          1767225600123, 951827696789,
                                      -1, -123456789, 4102444799999};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char out[FV_TIME_STR_MAX];
        size_t n = fv_time_format(samples[i], out);
        CU_ASSERT_FATAL(n > 0);
        fv_time back = 0;
        CU_ASSERT(fv_time_parse(out, n, &back));
        FV_ASSERT_INT_EQ(back, samples[i]);
    }
}

/* ------------------------------------------------------------------------
 * UTF-8
 */

static int u8(const char *s, size_t n)
{
    return fv_utf8_valid(s, n);
}

static void test_utf8__valid_text(void)
{
    CU_ASSERT(u8("", 0));
    CU_ASSERT(u8("plain ascii ~", 13));
    CU_ASSERT(u8("\xC3\xA9", 2));               /* é */
    CU_ASSERT(u8("\xC2\x80", 2));               /* U+0080, lowest 2-byte */
    CU_ASSERT(u8("\xE2\x82\xAC", 3));           /* € */
    CU_ASSERT(u8("\xE0\xA0\x80", 3));           /* U+0800, lowest 3-byte */
    CU_ASSERT(u8("\xED\x9F\xBF", 3));           /* U+D7FF, below surrogates */
    CU_ASSERT(u8("\xEE\x80\x80", 3));           /* U+E000, above surrogates */
    CU_ASSERT(u8("\xEF\xBF\xBF", 3));           /* U+FFFF */
    CU_ASSERT(u8("\xF0\x9F\x98\x80", 4));       /* 😀 */
    CU_ASSERT(u8("\xF0\x90\x80\x80", 4));       /* U+10000, lowest 4-byte */
    CU_ASSERT(u8("\xF4\x8F\xBF\xBF", 4));       /* U+10FFFF, the highest */
    CU_ASSERT(u8("a\xC3\xA9z\xE2\x82\xAC", 7)); /* mixed */
}

static void test_utf8__rejects_overlong_forms(void)
{
    CU_ASSERT(!u8("\xC0\x80", 2)); /* overlong NUL */
    CU_ASSERT(!u8("\xC0\xAF", 2));
    CU_ASSERT(!u8("\xC1\xBF", 2));
    CU_ASSERT(!u8("\xE0\x80\x80", 3));
    CU_ASSERT(!u8("\xE0\x9F\xBF", 3));
    CU_ASSERT(!u8("\xF0\x80\x80\x80", 4));
    CU_ASSERT(!u8("\xF0\x8F\xBF\xBF", 4));
}

static void test_utf8__rejects_surrogates_and_beyond_max(void)
{
    CU_ASSERT(!u8("\xED\xA0\x80", 3));             /* U+D800 */
    CU_ASSERT(!u8("\xED\xBF\xBF", 3));             /* U+DFFF */
    CU_ASSERT(!u8("\xED\xA0\xBD\xED\xB8\x80", 6)); /* CESU-8 pair */
    CU_ASSERT(!u8("\xF4\x90\x80\x80", 4));         /* U+110000 */
    CU_ASSERT(!u8("\xF5\x80\x80\x80", 4));
    CU_ASSERT(!u8("\xF8\x88\x80\x80\x80", 5));
    CU_ASSERT(!u8("\xFE", 1));
    CU_ASSERT(!u8("\xFF", 1));
}

static void test_utf8__rejects_truncated_and_stray_bytes(void)
{
    CU_ASSERT(!u8("\xC3", 1));
    CU_ASSERT(!u8("\xE2\x82", 2));
    CU_ASSERT(!u8("\xF0\x9F\x98", 3));
    CU_ASSERT(!u8("ok\xC3", 3));
    CU_ASSERT(!u8("\xC3\xA9", 1)); /* n cuts a valid character */
    CU_ASSERT(!u8("\x80", 1));     /* lone continuation */
    CU_ASSERT(!u8("a\xBF"
                  "b",
                  3));
    CU_ASSERT(!u8("\xC3\x28", 2)); /* bad continuation */
    CU_ASSERT(!u8("\xE2\x28\xA1", 3));
    CU_ASSERT(!u8("\xF0\x9F\x28\x80", 4));
}

static void test_utf8__rejects_nul(void)
{
    CU_ASSERT(!u8("a\0b", 3));
    CU_ASSERT(!u8("\0", 1));
    CU_ASSERT(u8("a\0b", 1)); /* the NUL is outside the n bytes */
}

/* ------------------------------------------------------------------------
 * Semver
 */

static void test_semver__valid_forms(void)
{
    static const char *const good[] = {
        "0.0.0",         "1.2.3",       "v1.2.3",         "10.20.30",      "1.0.0-alpha",
        "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x-y-z.--", "1.0.0+build.5", "1.0.0-rc.1+build.1-a"};
    static const char *const bad[] = {"",       "1",      "1.2",    "1.2.3.4",       "a.b.c",
                                      "1.2.3-", "1.2.3+", "1..3",   "1.2.3-a..b",    " 1.2.3",
                                      "1.2.3 ", "1.2.x",  "-1.2.3", "1.2.3-\xC3\xA9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT(fv_semver_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT(!fv_semver_valid(bad[i]));
    CU_ASSERT(!fv_semver_valid(NULL));
}

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

static void test_semver__numeric_fields_compare_as_numbers(void)
{
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.10.0", "1.9.0")), 1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.9.0", "1.10.0")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("2.0.0", "1.99.99")), 1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.10", "1.0.9")), 1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.2.0", "1.10.0")), -1);
    FV_ASSERT_INT_EQ(fv_semver_cmp("1.2.3", "1.2.3"), 0);
    FV_ASSERT_INT_EQ(fv_semver_cmp("v1.2.3", "1.2.3"), 0);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.0-rc.10", "1.0.0-rc.9")), 1);
}

/* semver.org §11: the canonical precedence chain. */
static void test_semver__prerelease_precedence_chain(void)
{
    static const char *const chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                        "1.0.0-rc.1",  "1.0.0"};
    size_t n = sizeof chain / sizeof chain[0];
    for (size_t i = 0; i < n; i++) {
        FV_ASSERT_INT_EQ(fv_semver_cmp(chain[i], chain[i]), 0);
        for (size_t j = i + 1; j < n; j++) {
            if (fv_semver_cmp(chain[i], chain[j]) >= 0 || fv_semver_cmp(chain[j], chain[i]) <= 0) {
                FV_ASSERT_STR_EQ(chain[i], chain[j]); /* prints the failing pair */
            }
        }
    }
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.0-alpha", "1.0.0")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.0-1", "1.0.0-a")), -1); /* numeric < alnum */
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.0-2", "1.0.0-10")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.1-alpha", "1.0.0")), 1);
}

static void test_semver__build_metadata_ignored(void)
{
    FV_ASSERT_INT_EQ(fv_semver_cmp("1.0.0+a", "1.0.0+b"), 0);
    FV_ASSERT_INT_EQ(fv_semver_cmp("1.0.0+build.9", "1.0.0"), 0);
    FV_ASSERT_INT_EQ(fv_semver_cmp("1.0.0-rc.1+x", "1.0.0-rc.1+y"), 0);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.0.0-rc.1+zzz", "1.0.0+aaa")), -1);
}

static void test_semver__invalid_and_null_rank_lowest(void)
{
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("garbage", "0.0.0")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("0.0.1", "zzz")), 1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("1.2", "0.0.0-alpha")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("abc", "abd")), -1); /* invalid: bytewise */
    FV_ASSERT_INT_EQ(fv_semver_cmp("same", "same"), 0);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp(NULL, "garbage")), -1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp("garbage", NULL)), 1);
    FV_ASSERT_INT_EQ(sgn(fv_semver_cmp(NULL, "1.0.0")), -1);
    FV_ASSERT_INT_EQ(fv_semver_cmp(NULL, NULL), 0);
}

/* ------------------------------------------------------------------------ */

static const fv_test_case arena_cases[] = {
    FV_TEST_CASE(test_arena__alignment),
    FV_TEST_CASE(test_arena__zero_size_gives_unique_pointers),
    FV_TEST_CASE(test_arena__growth_across_chunks),
    FV_TEST_CASE(test_arena__large_blocks),
    FV_TEST_CASE(test_arena__cap_enforced),
    FV_TEST_CASE(test_arena__calloc_zeroes_and_checks_overflow),
    FV_TEST_CASE(test_arena__cleanups_run_in_reverse_order),
    FV_TEST_CASE(test_arena__reset_keeps_one_chunk),
    FV_TEST_CASE(test_arena__strdup_printf_memdup),
    FV_TEST_CASE(test_arena__grow_copies),
};

static const fv_test_case alloc_cases[] = {
    FV_TEST_CASE(test_alloc__failure_injection),
    FV_TEST_CASE(test_alloc__arena_under_failure),
};

static const fv_test_case error_cases[] = {
    FV_TEST_CASE(test_error__table),
    FV_TEST_CASE(test_error__set_formats_and_returns_code),
    FV_TEST_CASE(test_error__truncation_is_utf8_safe),
};

static const fv_test_case uuid_cases[] = {
    FV_TEST_CASE(test_uuid__parse_and_format_round_trip),
    FV_TEST_CASE(test_uuid__parse_rejects_invalid),
    FV_TEST_CASE(test_uuid__compare_and_nil),
};

static const fv_test_case time_cases[] = {
    FV_TEST_CASE(test_time__format_known_instants),
    FV_TEST_CASE(test_time__format_negative_times),
    FV_TEST_CASE(test_time__format_none_and_out_of_range),
    FV_TEST_CASE(test_time__parse_valid_forms),
    FV_TEST_CASE(test_time__parse_checks_leap_years),
    FV_TEST_CASE(test_time__parse_rejects_garbage),
    FV_TEST_CASE(test_time__format_parse_round_trip),
};

static const fv_test_case utf8_cases[] = {
    FV_TEST_CASE(test_utf8__valid_text),
    FV_TEST_CASE(test_utf8__rejects_overlong_forms),
    FV_TEST_CASE(test_utf8__rejects_surrogates_and_beyond_max),
    FV_TEST_CASE(test_utf8__rejects_truncated_and_stray_bytes),
    FV_TEST_CASE(test_utf8__rejects_nul),
};

static const fv_test_case semver_cases[] = {
    FV_TEST_CASE(test_semver__valid_forms),
    FV_TEST_CASE(test_semver__numeric_fields_compare_as_numbers),
    FV_TEST_CASE(test_semver__prerelease_precedence_chain),
    FV_TEST_CASE(test_semver__build_metadata_ignored),
    FV_TEST_CASE(test_semver__invalid_and_null_rank_lowest),
};

/* Failure injection is process-wide: never leave it on after a test. */
static void reset_alloc(void)
{
    fv_alloc_fail_reset();
}

#define SUITE(name, cases)                                                                         \
    {                                                                                              \
        name, cases, FV_TEST_COUNT(cases), NULL, reset_alloc                                       \
    }

int main(void)
{
    static const fv_test_suite suites[] = {
        SUITE("arena", arena_cases),   SUITE("alloc", alloc_cases), SUITE("error", error_cases),
        SUITE("uuid", uuid_cases),     SUITE("time", time_cases),   SUITE("utf8", utf8_cases),
        SUITE("semver", semver_cases),
    };
    return fv_test_run_suites(suites, FV_TEST_COUNT(suites)) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
