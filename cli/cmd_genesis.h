/* cmd_genesis.h -- kula genesis new's members as the operator types them. */
#ifndef KULA_CLI_CMD_GENESIS_H
#define KULA_CLI_CMD_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/crypto/crypto.h"
#include "kula/crypto/keystore.h"
#include "kula/types/types.h"

/* One --member NAME[:SECTOR[:POWER[:PUBKEY]]]. */
typedef struct genesis_member_spec {
    char name[KULA_MAX_NAME + 1];
    char sector[KULA_MAX_NAME + 1]; /* "general" when not given */
    uint64_t power;
    bool has_power;                 /* else: 1 for the first member, 0 for the others */
    kula_pubkey pubkey;
    bool has_pubkey;                /* the member brought its own key */
} genesis_member_spec;

/* Parses the value of --member, read from the right, because a NAME may
 * contain ':' and the fields after it never do:
 *   ...:SECTOR:POWER:PUBKEY  when there are 3 or more ':' and the field
 *                            before the last is a number;
 *   ...:SECTOR:POWER         else when there are 2 or more ':' and the last
 *                            field is a number;
 *   ...:SECTOR               else when there is a ':';
 * and what is left is NAME ("Chez: Nous:food" is the member "Chez: Nous" of
 * the sector food).  A last field of 32 or more hex digits is taken as a
 * PUBKEY and refused unless in the first form.  NAME and SECTOR are 1 to KULA_MAX_NAME bytes of UTF-8
 * without control characters (an empty SECTOR is "general"); POWER is 0 to
 * 2^48; PUBKEY is the 64 hex digits of a BIP-340 public key, as kula keys
 * show prints it.
 * Out: *out; or err[cap], one line naming spec and what is wrong.
 * Returns: 0 or -1. */
int genesis_member_parse(genesis_member_spec *out, const char *spec, char *err, size_t cap);

/* The wallet label of the key kula genesis new makes for a member called
 * name: its letters and digits, accents taken off the Latin ones ("café" ->
 * "cafe"), . _ - kept, every other run of characters one '-', at most
 * KULA_KEYSTORE_MAX_LABEL bytes; "member" when nothing is left
 * ("Boulangerie Dupont" -> "Boulangerie-Dupont").
 * Out: out[KULA_KEYSTORE_MAX_LABEL + 1]. */
void genesis_key_label(char out[KULA_KEYSTORE_MAX_LABEL + 1], const char *name);

#endif /* KULA_CLI_CMD_GENESIS_H */
