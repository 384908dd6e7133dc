/* statement_job.c -- a member's account statement, a kind of job (job.h):
 * kula_statement_run into bounded memory, kept for the session that asked
 * (statement_job.h). */
#include "statement_job.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* What a statement job found. */
typedef struct found {
    int rc;          /* 0, or why there is nothing to download */
    char error[2048]; /* then: in words */
    uint64_t rows;
    char *data;      /* the statement, len bytes */
    size_t len;
} found;

/* ---- memory that holds at most kula_statement_job_max bytes ---- */

size_t kula_statement_job_max = KULA_STATEMENT_JOB_MAX;

typedef struct sink {
    char *data;
    size_t len, cap;
    bool over, nomem;
} sink;

/* fopencookie's write: 0 (an error for stdio, which sets ferror and so
 * ends kula_statement_run with KULA_EIO) past the bound or out of memory. */
static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    sink *s = cookie;
    if (n > kula_statement_job_max - s->len) {
        s->over = true;
        return 0;
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap > 0 ? s->cap : 64u * 1024u;
        while (cap < s->len + n)
            cap *= 2;
        if (cap > kula_statement_job_max)
            cap = kula_statement_job_max;
        char *d = realloc(s->data, cap);
        if (d == NULL) {
            s->nomem = true;
            return 0;
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, buf, n);
    s->len += n;
    return (ssize_t)n;
}

/* ---- the kind ---- */

static void *run(kula_job *j, kula_archive *a, const void *arg)
{
    const kula_statement_ask *ask = arg;
    found *f = calloc(1, sizeof(*f));
    sink s = { 0 };
    FILE *out = fopencookie(&s, "w", (cookie_io_functions_t){ .write = sink_write });
    if (f == NULL || out == NULL) {
        free(f);
        if (out != NULL)
            fclose(out);
        return NULL;
    }
    kula_statement_opts o = ask->opts;
    o.progress = kula_job_progress;
    o.ctx = j;
    kula_error e;
    uint64_t bad = 0;
    f->rc = kula_statement_run(a, out, &o, &f->rows, &e, &bad);
    if (fclose(out) != 0 && f->rc == 0)
        f->rc = KULA_EIO;
    if (f->rc == 0 || kula_job_stopping(j)) {
        /* done, or stopped: the worker drops it */
    } else if (s.over) {
        f->rc = KULA_ETOOBIG;
        size_t max = kula_statement_job_max;
        snprintf(f->error, sizeof(f->error),
                 "this statement is larger than %zu %s, the most the node keeps for a "
                 "download: choose a shorter period (From and To), or ask the node's operator "
                 "for kula export --member on its machine",
                 max >= (1u << 20) ? max >> 20 : max, max >= (1u << 20) ? "MiB" : "bytes");
    } else if (s.nomem || f->rc == KULA_ENOMEM) {
        f->rc = KULA_ENOMEM;
        snprintf(f->error, sizeof(f->error),
                 "the node ran out of memory making this statement: try a shorter period");
    } else if (bad != 0) {
        snprintf(f->error, sizeof(f->error),
                 "the node's ledger does not replay at height %llu (%s): nothing to download; "
                 "its operator should run kula audit",
                 (unsigned long long)bad, e.what);
    } else {
        snprintf(f->error, sizeof(f->error), "the statement could not be made: %s",
                 kula_strerror(f->rc));
    }
    if (f->rc != 0) {
        free(s.data);
        s.data = NULL;
        s.len = 0;
    }
    f->data = s.data;
    f->len = s.len;
    return f;
}

static void show(json_t *status, const void *found_)
{
    const found *f = found_;
    if (f->rc != 0) {
        json_object_set_new(status, "error", json_string(f->error));
        return;
    }
    json_object_set_new(status, "rows", json_integer((json_int_t)f->rows));
    json_object_set_new(status, "bytes", json_integer((json_int_t)f->len));
}

static void drop(void *found_)
{
    found *f = found_;
    if (f != NULL)
        free(f->data);
    free(f);
}

const kula_job_kind kula_statement_job = { "statement", NULL, run, show, drop };

/* ---- for the web wallet ---- */

/* s with every byte that is not [A-Za-z0-9._] or beyond ASCII made '-'. */
static void name_part(char *out, size_t len, const char *s)
{
    size_t n = 0;
    for (; *s != '\0' && n + 1 < len; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_';
        out[n++] = keep ? (char)c : '-';
    }
    out[n] = '\0';
}

void kula_statement_job_name(char *out, size_t len, const char *name, const char *from,
                             const char *to, const kula_statement_opts *o)
{
    char n[3 * 64 + 1], f[32], t[32];
    name_part(n, sizeof(n), name);
    name_part(f, sizeof(f), from);
    name_part(t, sizeof(t), to);
    snprintf(out, len, "%s-%s-%s-%s.%s", o->journal ? "journal" : "statement", n, f, t,
             o->format == KULA_STATEMENT_JSONL ? "jsonl" : "csv");
}

/* Whether the last statement was asked for by session (constant time: a
 * session's holder learns nothing of another's id). */
static const kula_statement_ask *ask_of(kula_job *j, const char *session)
{
    const kula_statement_ask *ask = kula_job_arg(j);
    if (ask == NULL || session == NULL || strlen(session) != KULA_WEB_TOKEN_HEX ||
        sodium_memcmp(ask->session, session, KULA_WEB_TOKEN_HEX) != 0)
        return NULL;
    return ask;
}

json_t *kula_statement_job_status(kula_job *j, const char *session)
{
    const kula_statement_ask *ask = ask_of(j, session);
    if (ask == NULL) {
        json_t *o = json_pack("{s:s}", "state", "none");
        if (o != NULL && kula_job_running(j))
            json_object_set_new(o, "busy", json_true());
        return o;
    }
    json_t *o = kula_job_status(j);
    if (o != NULL)
        json_object_set_new(o, "file", json_string(ask->file));
    return o;
}

int kula_statement_job_file(kula_job *j, const char *session, uint32_t member,
                            const char **data, size_t *len, const kula_statement_ask **ask)
{
    const kula_statement_ask *a = ask_of(j, session);
    const found *f = kula_job_found(j);
    if (a == NULL || a->opts.member != member || f == NULL || f->rc != 0)
        return KULA_ENOTFOUND;
    *data = f->data;
    *len = f->len;
    *ask = a;
    return KULA_OK;
}
