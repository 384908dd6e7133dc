/* ids.h -- ids as people type them: a unique prefix of at least 4 hex
 * digits (as git takes one), the full 64, or for an agreement its label. */
#ifndef KULA_CLI_IDS_H
#define KULA_CLI_IDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "kula/types/types.h"

#define IDS_MIN_PREFIX 4 /* hex digits */

/* Returns: the number of hex digits of text when it is 4 to 64 of them and
 *          nothing else, else 0. */
unsigned ids_prefix_len(const char *text);

/* Picks the one id among the candidates the node found for a prefix
 * (method "resolve": ids, a JSON array of hex strings; more, whether it
 * found others).  what names the option and kind ("--proposal").
 * Out: *out; or err[cap], saying that no id of that kind starts with text,
 * or that several do, listing them.  Returns: 0 or -1. */
int ids_pick(const char *what, const char *kind, const char *text, const json_t *ids, bool more,
             kula_hash *out, char *err, size_t cap);

/* Resolves text, the value of option what, to the id of a record of kind
 * ("agreement", "proposal", "referral" or "invoice"): 64 hex digits as they are, a
 * prefix of 4 to 63 through the node, and for an agreement a label, also
 * one made of hex digits that starts no agreement's id (the
 * one agreement of that label among those member is a party to, or among
 * all when member is 0; ids_resolve.c).  A kind of "tx" is a transaction,
 * committed, pending or recently refused (by id or prefix only).
 * Returns: CLI_OK, or an exit code after saying why. */
int ids_resolve(cli *c, const char *what, const char *kind, const char *text,
                uint32_t member, kula_hash *out);

#endif
