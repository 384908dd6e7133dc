/* rpc_client.c -- JSON-RPC over HTTP to kulad, with libcurl. */
#include "rpc_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    kula_buf *b = ctx;
    if (b->len + size * n > (64u << 20))
        return 0; /* a reply this large is not from kulad */
    kula_buf_append(b, p, size * n);
    return b->err == 0 ? size * n : 0;
}

int rpc_connect(cli *c)
{
    if (c->rpc_url[0] != '\0') {
        if (c->token[0] == '\0') {
            const char *env = getenv("KULA_RPC_TOKEN");
            if (env == NULL || *env == '\0')
                return cli_fail(CLI_USAGE, "--rpc needs --token or KULA_RPC_TOKEN");
            snprintf(c->token, sizeof(c->token), "%s", env);
        }
        return CLI_OK;
    }
    char path[1100];
    snprintf(path, sizeof(path), "%s/rpc.cookie", c->datadir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cli_fail(CLI_UNREACHABLE,
                        "cannot reach the node: no %s (is kulad running with --datadir %s?)",
                        path, c->datadir);
    char line[600];
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "url=", 4) == 0)
            snprintf(c->rpc_url, sizeof(c->rpc_url), "%.500s", line + 4);
        else if (strncmp(line, "token=", 6) == 0 && c->token[0] == '\0')
            snprintf(c->token, sizeof(c->token), "%.120s", line + 6);
    }
    fclose(f);
    if (c->rpc_url[0] == '\0' || c->token[0] == '\0')
        return cli_fail(CLI_UNREACHABLE, "%s is not a kulad cookie file", path);
    return CLI_OK;
}

static json_t *last_data; /* the last error answer's "data" */

int rpc_call(cli *c, const char *method, json_t *params, json_t **result, int *err_code,
             bool quiet)
{
    static unsigned long next_id = 1;
    *result = NULL;
    if (err_code != NULL)
        *err_code = 0;
    int rc = rpc_connect(c);
    if (rc != CLI_OK) {
        json_decref(params);
        return rc;
    }
    if (c->http == NULL) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c->http = curl_easy_init();
        if (c->http == NULL) {
            json_decref(params);
            return cli_fail(CLI_UNREACHABLE, "cannot start an HTTP client");
        }
    }
    json_t *req = json_pack("{s:s, s:s, s:o, s:I}", "jsonrpc", "2.0", "method", method,
                            "params", params != NULL ? params : json_object(), "id",
                            (json_int_t)next_id++);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    kula_buf reply;
    kula_buf_init(&reply);
    CURL *h = c->http;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, c->rpc_url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    free(body);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        kula_buf_free(&reply);
        return cli_fail(CLI_UNREACHABLE, "cannot reach the node at %s: %s", c->rpc_url,
                        curl_easy_strerror(cc));
    }
    json_error_t jerr;
    json_t *resp = json_loadb((const char *)reply.data, reply.len, 0, &jerr);
    kula_buf_free(&reply);
    if (status == 401)
        rc = cli_fail(CLI_UNREACHABLE, "the node refused the token (stale cookie? restart "
                                       "of kulad?)");
    else if (resp == NULL || !json_is_object(resp))
        rc = cli_fail(CLI_UNREACHABLE, "the node at %s answered HTTP %ld without JSON-RPC",
                      c->rpc_url, status);
    else if (json_object_get(resp, "error") != NULL) {
        json_t *e = json_object_get(resp, "error");
        if (err_code != NULL)
            *err_code = (int)json_integer_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        json_decref(last_data);
        last_data = json_incref(json_object_get(e, "data"));
        snprintf(c->last_error, sizeof(c->last_error), "%s", msg != NULL ? msg : "refused");
        rc = quiet ? CLI_REFUSED
                   : cli_fail(CLI_REFUSED, "%s", json_string_value(json_object_get(e, "message")));
    } else {
        *result = json_incref(json_object_get(resp, "result"));
        rc = CLI_OK;
    }
    json_decref(resp);
    return rc;
}

const json_t *rpc_last_error_data(void) { return last_data; }

const char *rpc_name_of(void *ctx, int64_t id)
{
    rpc_names *n = ctx;
    json_decref(n->last);
    n->last = NULL;
    if (rpc_call(n->c, "member", json_pack("{s:I}", "member", (json_int_t)id), &n->last, NULL,
                 true) != CLI_OK)
        return NULL;
    return json_string_value(json_object_get(n->last, "name"));
}

void cli_print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        puts(text);
        free(text);
    }
    json_decref(j);
}
