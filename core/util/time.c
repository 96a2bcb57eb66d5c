/* RFC 3339 formatting and parsing on the civil-calendar algorithms of
 * Howard Hinnant's date library (days_from_civil / civil_from_days). */
#include "core/util/time.h"

#include <stdio.h>

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

size_t fv_time_format(fv_time t, char out[FV_TIME_STR_MAX])
{
    out[0] = '\0';
    if (t == FV_TIME_NONE)
        return 0;
    int64_t days = floor_div(t, 86400000);
    int64_t ms_of_day = t - days * 86400000;
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return 0;
    int64_t secs = ms_of_day / 1000;
    int n = snprintf(out, FV_TIME_STR_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m,
                     (int)d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
                     (int)(ms_of_day % 1000));
    return n > 0 ? (size_t)n : 0;
}

static bool digits(const char *s, size_t k, int *out)
{
    int v = 0;
    for (size_t i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

bool fv_time_parse(const char *s, size_t n, fv_time *out)
{
    int Y, M, D, h, mi, sec;
    if (s == NULL || n < 20)
        return false;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || sec > 60)
        return false;
    if (sec == 60) /* a leap second is folded onto the next one's start */
        sec = 59;
    size_t i = 19;
    int64_t ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    int64_t offset_min = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (n - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t days = days_from_civil(Y, M, D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out = secs * 1000 + ms;
    return true;
}
