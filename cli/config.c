/* The CLI's settings: config file parsing and precedence (see config.h). */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util/utf8.h"

/* ---- Parsing ------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* [b, e) without surrounding blanks. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

static bool profile_name_ok(const char *b, const char *e)
{
    if (b == e || e - b > 64)
        return false;
    for (const char *p = b; p < e; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

static fv_err bad(fv_error *err, const char *path, unsigned line, const char *what)
{
    return fv_error_set(err, FV_E_INVALID, "%s:%u: %s", path, line, what);
}

/* One [section] line, [b, e) without the brackets. */
static fv_err section(fv_arena *a, const char *path, unsigned line, const char *b, const char *e,
                      fv_cli_config *c, size_t *cap, fv_error *err)
{
    trim(&b, &e);
    const char *name_b = b, *name_e = e;
    if ((size_t)(e - b) >= 7 && strncmp(b, "profile", 7) == 0 && (e - b == 7 || is_space(b[7]))) {
        name_b = b + 7;
        trim(&name_b, &name_e);
    } else if (!((size_t)(e - b) == 7 && strncmp(b, "default", 7) == 0)) {
        char what[160];
        snprintf(what, sizeof what,
                 "unknown section \"[%.*s]\" (expected [default] or [profile NAME])",
                 (int)(e - b > 60 ? 60 : e - b), b);
        return bad(err, path, line, what);
    }
    if (!profile_name_ok(name_b, name_e))
        return bad(err, path, line,
                   "a profile name is 1-64 letters, digits, '-', '_' or '.': [profile NAME]");
    char *name = fv_arena_strndup(a, name_b, (size_t)(name_e - name_b));
    if (name == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    const fv_cli_profile *dup = fv_cli_config_profile(c, name);
    if (dup != NULL)
        return fv_error_set(err, FV_E_INVALID,
                            "%s:%u: profile \"%s\" is defined twice (first at line %u)", path, line,
                            name, dup->line);
    if (c->n == *cap) {
        size_t ncap = *cap > 0 ? *cap * 2 : 4;
        fv_cli_profile *p = fv_arena_grow(a, c->profiles, *cap * sizeof *p, ncap * sizeof *p);
        if (p == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        c->profiles = p;
        *cap = ncap;
    }
    fv_cli_profile *p = &c->profiles[c->n++];
    memset(p, 0, sizeof *p);
    p->name = name;
    p->line = line;
    return FV_OK;
}

/* One key = value line of the current profile. */
static fv_err key_value(fv_arena *a, const char *path, unsigned line, const char *b, const char *e,
                        fv_cli_config *c, fv_error *err)
{
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (eq == NULL)
        return bad(err, path, line, "expected \"key = value\", [default] or [profile NAME]");
    const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
    trim(&kb, &ke);
    trim(&vb, &ve);
    static const char *const keys[] = {"server", "tenant", "api_key"};
    int k = -1;
    for (int i = 0; i < 3; i++)
        if ((size_t)(ke - kb) == strlen(keys[i]) && strncmp(kb, keys[i], (size_t)(ke - kb)) == 0)
            k = i;
    if (k < 0) {
        char what[160];
        snprintf(what, sizeof what, "unknown key \"%.*s\" (expected server, tenant or api_key)",
                 (int)(ke - kb > 60 ? 60 : ke - kb), kb);
        return bad(err, path, line, what);
    }
    if (c->n == 0) {
        char what[160];
        snprintf(what, sizeof what,
                 "\"%s\" is outside a profile: put it under [default] or "
                 "[profile NAME]",
                 keys[k]);
        return bad(err, path, line, what);
    }
    if (ve - vb >= 2 && vb[0] == '"' && ve[-1] == '"') {
        vb++;
        ve--;
    }
    if (vb == ve) {
        char what[96];
        snprintf(what, sizeof what, "empty value for \"%s\"", keys[k]);
        return bad(err, path, line, what);
    }
    for (const char *p = vb; p < ve; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return bad(err, path, line, "control character in a value");
    fv_cli_profile *p = &c->profiles[c->n - 1];
    const char **slot = k == 0 ? &p->server : k == 1 ? &p->tenant : &p->api_key;
    unsigned *slot_line = k == 0 ? &p->server_line : k == 1 ? &p->tenant_line : &p->api_key_line;
    if (*slot != NULL)
        return fv_error_set(err, FV_E_INVALID,
                            "%s:%u: \"%s\" is set twice in profile \"%s\" (first at line %u)", path,
                            line, keys[k], p->name, *slot_line);
    *slot = fv_arena_strndup(a, vb, (size_t)(ve - vb));
    if (*slot == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    *slot_line = line;
    return FV_OK;
}

fv_err fv_cli_config_parse(fv_arena *a, const char *path, const char *text, size_t n,
                           fv_cli_config *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    out->private_mode = true;
    size_t cap = 0;
    unsigned line = 0;
    const char *p = text, *end = text + n;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl != NULL ? nl : end;
        const char *b = p;
        p = nl != NULL ? nl + 1 : end;
        if (e > b && e[-1] == '\r')
            e--;
        if (!fv_utf8_valid(b, (size_t)(e - b)))
            return bad(err, path, line, "not UTF-8 text");
        trim(&b, &e);
        if (b == e || *b == '#' || *b == ';')
            continue;
        fv_err rc;
        if (*b == '[') {
            if (e[-1] != ']' || e - b < 2)
                return bad(err, path, line, "a section is [default] or [profile NAME]");
            rc = section(a, path, line, b + 1, e - 1, out, &cap, err);
        } else {
            rc = key_value(a, path, line, b, e, out, err);
        }
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

const fv_cli_profile *fv_cli_config_profile(const fv_cli_config *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->profiles[i].name, name) == 0)
            return &c->profiles[i];
    return NULL;
}

fv_err fv_cli_config_load(fv_arena *a, const char *path, fv_cli_config *out, bool *found,
                          fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    out->private_mode = true;
    *found = false;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return FV_OK;
        return fv_error_set(err, FV_E_INVALID, "could not read %s: %s", path, strerror(errno));
    }
    fv_err rc = FV_OK;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rc = fv_error_set(err, FV_E_INVALID, "could not read %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fv_error_set(err, FV_E_INVALID, "could not read %s: not a regular file", path);
        goto done;
    }
    if ((size_t)st.st_size > FV_CLI_CONFIG_MAX) {
        rc = fv_error_set(err, FV_E_INVALID, "%s: larger than 1 MiB, not a config file", path);
        goto done;
    }
    char *text = fv_arena_alloc(a, (size_t)st.st_size + 1);
    if (text == NULL) {
        rc = fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        goto done;
    }
    size_t n = fread(text, 1, (size_t)st.st_size + 1, f);
    if (ferror(f)) {
        rc = fv_error_set(err, FV_E_INVALID, "could not read %s: %s", path, strerror(errno));
        goto done;
    }
    if (n > (size_t)st.st_size) {
        rc = fv_error_set(err, FV_E_INVALID, "could not read %s: it changed while read", path);
        goto done;
    }
    rc = fv_cli_config_parse(a, path, text, n, out, err);
    if (rc == FV_OK) {
        *found = true;
        out->private_mode = (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
    }
done:
    fclose(f);
    return rc;
}

const char *fv_cli_config_path(fv_arena *a, fv_cli_getenv_fn env, void *env_user)
{
    const char *xdg = env(env_user, "XDG_CONFIG_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return fv_arena_printf(a, "%s/flovyn/config", xdg);
    const char *home = env(env_user, "HOME");
    if (home != NULL && home[0] != '\0')
        return fv_arena_printf(a, "%s/.config/flovyn/config", home);
    return NULL;
}

/* ---- Precedence --------------------------------------------------------- */

/* An environment variable, or NULL when unset or empty. */
static const char *env_value(fv_cli_getenv_fn env, void *user, const char *name)
{
    const char *v = env(user, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Pick one setting: flag, else environment, else profile, else default. */
static void choose(fv_arena *a, const char *flag_value, const char *flag_name, const char *env_v,
                   const char *env_name, const char *file_v, const char *path, unsigned line,
                   const char *dflt, const char **value, const char **from)
{
    if (flag_value != NULL) {
        *value = flag_value;
        *from = flag_name;
    } else if (env_v != NULL) {
        *value = env_v;
        *from = env_name;
    } else if (file_v != NULL) {
        *value = file_v;
        *from = fv_arena_printf(a, "%s:%u", path, line);
        if (*from == NULL)
            *from = path;
    } else {
        *value = dflt;
        *from = dflt != NULL ? "default" : NULL;
    }
}

static bool is_http_url(const char *s)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(schemes[i]);
        size_t j = 0;
        while (j < n && s[j] != '\0' && tolower((unsigned char)s[j]) == schemes[i][j])
            j++;
        if (j == n)
            return s[n] != '\0' && s[n] != '/';
    }
    return false;
}

fv_err fv_cli_settings_resolve(fv_arena *a, const fv_cli_args *args, fv_cli_getenv_fn env,
                               void *env_user, fv_cli_settings *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    const char *profile_from = NULL;
    if (args->profile != NULL) {
        out->profile = args->profile;
        profile_from = "--profile";
    } else if (env_value(env, env_user, "FLOVYN_PROFILE") != NULL) {
        out->profile = env_value(env, env_user, "FLOVYN_PROFILE");
        profile_from = "FLOVYN_PROFILE";
    } else {
        out->profile = FV_CLI_DEFAULT_PROFILE;
    }

    fv_cli_config cfg;
    memset(&cfg, 0, sizeof cfg);
    out->config_path = fv_cli_config_path(a, env, env_user);
    if (out->config_path != NULL) {
        fv_err rc = fv_cli_config_load(a, out->config_path, &cfg, &out->config_found, err);
        if (rc != FV_OK)
            return rc;
    }
    const fv_cli_profile *p = fv_cli_config_profile(&cfg, out->profile);
    if (p == NULL && profile_from != NULL) {
        if (out->config_path == NULL)
            return fv_error_set(err, FV_E_INVALID,
                                "profile \"%.64s\" (%s): there is no config file (set HOME or "
                                "XDG_CONFIG_HOME)",
                                out->profile, profile_from);
        if (!out->config_found)
            return fv_error_set(err, FV_E_INVALID, "profile \"%.64s\" (%s): %s does not exist",
                                out->profile, profile_from, out->config_path);
        return fv_error_set(err, FV_E_INVALID, "profile \"%.64s\" (%s) is not in %s", out->profile,
                            profile_from, out->config_path);
    }
    static const fv_cli_profile none;
    if (p == NULL)
        p = &none;

    choose(a, args->server, "--server", env_value(env, env_user, "FLOVYN_SERVER"), "FLOVYN_SERVER",
           p->server, cfg.path, p->server_line, FV_CLI_DEFAULT_SERVER, &out->server,
           &out->server_from);
    choose(a, args->tenant, "--tenant", env_value(env, env_user, "FLOVYN_TENANT"), "FLOVYN_TENANT",
           p->tenant, cfg.path, p->tenant_line, FV_CLI_DEFAULT_TENANT, &out->tenant,
           &out->tenant_from);
    choose(a, args->api_key, "--api-key", env_value(env, env_user, "FLOVYN_API_KEY"),
           "FLOVYN_API_KEY", p->api_key, cfg.path, p->api_key_line, NULL, &out->api_key,
           &out->api_key_from);

    if (!is_http_url(out->server))
        return fv_error_set(err, FV_E_INVALID, "%s: \"%.100s\" is not an http:// or https:// URL",
                            out->server_from, out->server);
    if (p->api_key != NULL && !cfg.private_mode)
        snprintf(out->warning, sizeof out->warning,
                 "warning: %s holds an API key and other users can read it (chmod 600 %s)",
                 out->config_path, out->config_path);
    return FV_OK;
}
