/* Parsing just enough of semver to order versions. */
#include "core/util/semver.h"

#include <stdint.h>
#include <string.h>

typedef struct parsed {
    uint64_t num[3];
    const char *pre; /* start of pre-release, NULL if none */
    size_t pre_len;
} parsed;

static bool parse_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

static bool ident_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Dot-separated non-empty identifiers of [0-9A-Za-z-]; returns the end. */
static const char *scan_idents(const char *s)
{
    for (;;) {
        const char *start = s;
        while (ident_char(*s))
            s++;
        if (s == start)
            return NULL;
        if (*s != '.')
            return s;
        s++;
    }
}

static bool parse(const char *s, parsed *out)
{
    if (s == NULL)
        return false;
    if (*s == 'v' || *s == 'V')
        s++;
    for (int i = 0; i < 3; i++) {
        if (!parse_num(&s, &out->num[i]))
            return false;
        if (i < 2 && *s++ != '.')
            return false;
    }
    out->pre = NULL;
    out->pre_len = 0;
    if (*s == '-') {
        const char *end = scan_idents(s + 1);
        if (end == NULL)
            return false;
        out->pre = s + 1;
        out->pre_len = (size_t)(end - (s + 1));
        s = end;
    }
    if (*s == '+') {
        const char *end = scan_idents(s + 1);
        if (end == NULL)
            return false;
        s = end;
    }
    return *s == '\0';
}

bool fv_semver_valid(const char *s)
{
    parsed p;
    return parse(s, &p);
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    bool ad = all_digits(a, an), bd = all_digits(b, bn);
    if (ad && bd) {
        /* Compare as numbers without overflow: skip leading zeros, then
         * longer is larger, then bytewise. */
        while (an > 1 && *a == '0')
            a++, an--;
        while (bn > 1 && *b == '0')
            b++, bn--;
        if (an != bn)
            return an < bn ? -1 : 1;
        return memcmp(a, b, an);
    }
    if (ad != bd)
        return ad ? -1 : 1; /* numeric identifiers rank below alphanumeric */
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);
    if (c != 0)
        return c;
    return an == bn ? 0 : (an < bn ? -1 : 1);
}

static int cmp_pre(const parsed *x, const parsed *y)
{
    if (x->pre == NULL || y->pre == NULL) {
        if (x->pre == y->pre)
            return 0;
        return x->pre == NULL ? 1 : -1; /* release > pre-release */
    }
    const char *a = x->pre, *ae = x->pre + x->pre_len;
    const char *b = y->pre, *be = y->pre + y->pre_len;
    for (;;) {
        const char *an = memchr(a, '.', (size_t)(ae - a));
        const char *bn = memchr(b, '.', (size_t)(be - b));
        if (an == NULL)
            an = ae;
        if (bn == NULL)
            bn = be;
        int c = cmp_ident(a, (size_t)(an - a), b, (size_t)(bn - b));
        if (c != 0)
            return c;
        bool a_more = an < ae, b_more = bn < be;
        if (!a_more || !b_more)
            return a_more == b_more ? 0 : (a_more ? 1 : -1);
        a = an + 1;
        b = bn + 1;
    }
}

int fv_semver_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (b == NULL) - (a == NULL); /* NULL ranks lowest */
    parsed x, y;
    bool xv = parse(a, &x), yv = parse(b, &y);
    if (!xv || !yv) {
        if (xv != yv)
            return xv ? 1 : -1;
        int c = strcmp(a, b);
        return (c > 0) - (c < 0);
    }
    for (int i = 0; i < 3; i++)
        if (x.num[i] != y.num[i])
            return x.num[i] < y.num[i] ? -1 : 1;
    int c = cmp_pre(&x, &y);
    return (c > 0) - (c < 0);
}
