/* web_form.h -- what a browser sends to the web wallet, decoded
 * defensively: bounded sizes, every field checked, an error naming the
 * field and what to do, never a crash (tests/fuzz/fuzz_web_form.c).
 * Private to node/api. */
#ifndef KULA_WEB_FORM_H
#define KULA_WEB_FORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/audit/statement.h"
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"
#include "web_session.h"

/* The largest body the web wallet reads: a transaction file of the largest
 * transaction (KULA_MAX_TX_BYTES, twice that in hex) and its JSON. */
#define KULA_WEB_MAX_BODY ((2u * KULA_MAX_TX_BYTES) + (64u * 1024u))
#define KULA_WEB_MAX_PASSPHRASE 1024u

enum kula_web_form_kind {
    KULA_WEB_FORM_LOGIN, /* {"token"} */
    KULA_WEB_FORM_PAY,   /* {"to", "amount", "memo"?, "passphrase"} */
    KULA_WEB_FORM_VOTE,  /* {"proposal", "approve", "passphrase"} */
    KULA_WEB_FORM_OPEN,  /* {"file"}: a transaction file (kula exchange --out) */
    KULA_WEB_FORM_SIGN,  /* {"file", "passphrase"} */
    KULA_WEB_FORM_FEEDBACK, /* {"about", "rating": 1-5, "comment"?, "passphrase"} */
    KULA_WEB_FORM_INVOICE,  /* {"invoice", "action": "accept" or "pay", "passphrase"} */
    /* {"from"?, "to"?: days "YYYY-MM-DD" (UTC; "to" included), "format"?: "csv" (the
     * default), "journal" or "jsonl"}: a statement as kula export --member makes it */
    KULA_WEB_FORM_STATEMENT,
};

/* A transaction file as `kula ... --out` writes it: {"kula_tx": 1,
 * "network", "chain_id", "tx": hex, "required": [{"member", "pubkey",
 * "name"}]}. */
typedef struct kula_web_txfile {
    json_t *root;      /* owned */
    kula_hash chain_id;
    uint8_t *bytes;    /* owned: the transaction signed so far */
    size_t len;
    kula_tx tx;        /* borrows bytes */
    uint32_t nreq;
    uint32_t req[KULA_MAX_PARTIES];
    kula_pubkey req_keys[KULA_MAX_PARTIES];
} kula_web_txfile;

typedef struct kula_web_form {
    enum kula_web_form_kind kind;
    char token[KULA_WEB_TOKEN_HEX + 1];
    char to[256];      /* pay: whom; feedback: about whom */
    char amount[40];
    char memo[KULA_MAX_MEMO + 1];
    char passphrase[KULA_WEB_MAX_PASSPHRASE + 1]; /* wiped by kula_web_form_free */
    kula_hash proposal;   /* vote: the proposal; invoice: the invoice */
    bool pay;             /* invoice: pay what it still owes (else accept it) */
    bool approve;
    unsigned rating;                       /* 1-5 */
    char comment[KULA_MAX_COMMENT + 1];
    bool has_file;
    kula_web_txfile file;
    /* statement: the days as typed ("": open), and the period and format
     * read from them (member: 0, the caller's to fill in) */
    char from[11], until[11];
    kula_statement_opts statement;
} kula_web_form;

/* Decodes body (len bytes, not NUL-terminated) as a form of kind.
 * Returns: 0, or KULA_EINVAL after e (may be NULL), naming what is wrong
 *          and what to do.  Call kula_web_form_free afterwards in every
 *          case. */
KULA_MUST_CHECK
int kula_web_form_parse(kula_web_form *f, enum kula_web_form_kind kind, const uint8_t *body,
                        size_t len, kula_error *e);
void kula_web_form_free(kula_web_form *f);

/* Whether member has signed the file's transaction already. */
bool kula_web_txfile_signed_by(const kula_web_txfile *t, uint32_t member);

#endif /* KULA_WEB_FORM_H */
