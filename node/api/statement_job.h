/* statement_job.h -- a member's account statement made by the node for the
 * web wallet's "Download statement": a kind of job (job.h), on a worker
 * thread of its own, never on the loop.  Private to node/api.
 *
 * It writes what `kula export --member M` writes for the same period and
 * format (kula_statement_run over the blocks up to the tip the node had at
 * the start), byte for byte, into memory: at most KULA_STATEMENT_JOB_MAX
 * bytes; a statement that would be larger ends with an error in words
 * (choose a shorter period) and nothing to download.  The result is kept
 * until the next statement starts or the node stops, and is given only to
 * the session that asked for it while its key is still member M's. */
#ifndef KULA_STATEMENT_JOB_H
#define KULA_STATEMENT_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "kula/audit/statement.h"
#include "web_session.h"

#define KULA_STATEMENT_JOB_MAX (32u << 20)
#define KULA_STATEMENT_FILE_MAX 200u
/* KULA_STATEMENT_JOB_MAX, which tests lower to reach it with little data. */
extern size_t kula_statement_job_max;

/* What a start asks for (kula_job_start's arg). */
typedef struct kula_statement_ask {
    kula_statement_opts opts;              /* member, period, format */
    char session[KULA_WEB_TOKEN_HEX + 1];  /* the only session that may fetch it */
    char file[KULA_STATEMENT_FILE_MAX];    /* the download's name (kula_statement_job_name) */
} kula_statement_ask;

extern const kula_job_kind kula_statement_job;

/* The download's name: "statement-NAME-FROM-TO.csv" (the journal:
 * "journal-...", JSON lines: ".jsonl"), FROM and TO the days as typed;
 * NAME the member's name with every byte that is not a letter, a digit,
 * '.', '_' or UTF-8 beyond ASCII made '-'. */
void kula_statement_job_name(char *out, size_t len, const char *name, const char *from,
                             const char *to, const kula_statement_opts *o);

/* The job's status for session (a session id): kula_job_status when the
 * last statement is the session's, with "file" (the download's name) and,
 * once done, "rows" and "bytes" or "error" (in words); otherwise
 * {"state": "none"}, with "busy": true while another session's statement is
 * being made.  Loop thread.  Returns: NULL when out of memory. */
json_t *kula_statement_job_status(kula_job *j, const char *session);

/* The finished statement, for session `session` whose key is member's.
 * Loop thread.
 * Out: *data, *len (borrowed until the next start), *ask.
 * Returns: 0; KULA_ENOTFOUND when the last statement is not this session's
 *          and this member's, is still being made, or failed. */
int kula_statement_job_file(kula_job *j, const char *session, uint32_t member,
                            const char **data, size_t *len, const kula_statement_ask **ask);

#endif /* KULA_STATEMENT_JOB_H */
