/* ids_resolve.c -- ids by unique prefix or label, through the node (ids.h). */
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "kula/crypto/crypto.h"
#include "rpc_client.h"

/* The one agreement labelled text, paging through the list. */
static int by_label(cli *c, const char *what, const char *text, uint32_t member,
                    kula_hash *out)
{
    char found[2][2 * KULA_HASH_LEN + 1];
    size_t nfound = 0;
    json_t *after = NULL;
    for (;;) {
        json_t *params = json_pack("{s:i}", "limit", 200);
        if (member != 0)
            json_object_set_new(params, "member", json_integer(member));
        if (after != NULL)
            json_object_set_new(params, "after", after);
        json_t *page;
        int rc = rpc_call(c, "agreements", params, &page, NULL, false);
        if (rc != CLI_OK)
            return rc;
        size_t n = json_array_size(page);
        for (size_t i = 0; i < n; i++) {
            json_t *a = json_array_get(page, i);
            const char *label = json_string_value(json_object_get(a, "label"));
            const char *id = json_string_value(json_object_get(a, "id"));
            if (label != NULL && id != NULL && strcmp(label, text) == 0) {
                if (nfound < 2)
                    snprintf(found[nfound], sizeof(found[0]), "%s", id);
                nfound++;
            }
        }
        after = n > 0 ? json_incref(json_object_get(json_array_get(page, n - 1), "id")) : NULL;
        json_decref(page);
        if (n < 200)
            break;
    }
    json_decref(after);
    if (nfound == 0)
        return cli_fail(CLI_REFUSED,
                        "%s %s: no agreement%s has that label, and it is not an id (4 to 64 "
                        "hex digits); kula agreement list shows them",
                        what, text, member != 0 ? " of yours" : "");
    if (nfound > 1)
        return cli_fail(CLI_REFUSED,
                        "%s %s: %zu agreements have that label (%.12s.., %.12s..); give the id",
                        what, text, nfound, found[0], found[1]);
    if (kula_hex_decode(out->b, KULA_HASH_LEN, found[0]) != 0)
        return cli_fail(CLI_REFUSED, "%s %s: the node gave an id that is not 64 hex digits (%s)",
                        what, text, found[0]);
    return CLI_OK;
}

int ids_resolve(cli *c, const char *what, const char *kind, const char *text,
                uint32_t member, kula_hash *out)
{
    unsigned n = ids_prefix_len(text);
    if (n == 2 * KULA_HASH_LEN && kula_hex_decode(out->b, KULA_HASH_LEN, text) == 0)
        return CLI_OK;
    if (n == 0 && strcmp(kind, "agreement") == 0 && text != NULL && text[0] != '\0')
        return by_label(c, what, text, member, out);
    if (n == 0)
        return cli_fail(CLI_USAGE, "%s '%s': an id, or its first %d or more hex digits%s", what,
                        text != NULL ? text : "", IDS_MIN_PREFIX,
                        strcmp(kind, "agreement") == 0 ? ", or the agreement's label" : "");
    json_t *r;
    int rc = rpc_call(c, "resolve", json_pack("{s:s, s:s}", "kind", kind, "prefix", text), &r,
                      NULL, false);
    if (rc != CLI_OK)
        return rc;
    char err[1024];
    bool none = json_array_size(json_object_get(r, "ids")) == 0;
    if (ids_pick(what, kind, text, json_object_get(r, "ids"),
                 json_is_true(json_object_get(r, "more")), out, err, sizeof(err)) != 0)
        rc = none && strcmp(kind, "agreement") == 0
                 ? by_label(c, what, text, member, out) /* a label such as "cafe" */
                 : cli_fail(CLI_REFUSED, "%s", err);
    json_decref(r);
    return rc;
}
