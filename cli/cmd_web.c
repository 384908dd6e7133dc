/* cmd_web.c -- kula web: the address that logs a browser into the node's
 * web wallet (node/api/web.h). */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_client.h"

/* The wallet's only key, when it has exactly one.  Out: out[cap].
 * Returns: CLI_OK, or CLI_USAGE after saying which keys there are. */
static int only_key(const cli *c, char *out, size_t cap)
{
    DIR *d = opendir(c->wallet);
    size_t n = 0;
    char names[512] = "";
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".key") != 0)
            continue;
        if (n++ == 0)
            snprintf(out, cap, "%.*s", (int)(len - 4), e->d_name);
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%.*s", used ? ", " : "", (int)(len - 4),
                 e->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (n == 1)
        return CLI_OK;
    if (n == 0)
        return cli_fail(CLI_USAGE, "web: the wallet %s has no key: 'kula keys new NAME' makes "
                                   "one, then 'kula web --key NAME'", c->wallet);
    return cli_fail(CLI_USAGE, "web: the wallet has %zu keys (%s): choose one with --key NAME",
                    n, names);
}

/* Runs xdg-open URL, without a shell.  Returns: CLI_OK or CLI_REFUSED. */
static int open_browser(const char *url)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("xdg-open", "xdg-open", url, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return cli_fail(CLI_REFUSED, "web: xdg-open could not open a browser (exit %d): open "
                                     "the address above yourself within 60 s",
                        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return CLI_OK;
}

int cmd_web(cli *c)
{
    static const char usage[] =
        "Usage: kula web [--key NAME] [--url] [--open]\n"
        "Prints the address that logs a browser on this machine into the node's web\n"
        "wallet as the wallet key NAME (a key of the node's wallet, DATADIR/wallet;\n"
        "not needed when the wallet has one key).  The address works once, within\n"
        "60 seconds; the browser then holds a session of at most 12 hours (30 minutes\n"
        "without use).  The token is in the address's fragment (after '#'): it is\n"
        "never sent in a request line nor logged.  Its history page downloads the\n"
        "member's statement, made by the node: kula export --member's bytes.\n"
        "  --url   print only the address\n"
        "  --open  open it with xdg-open\n";
    static const struct option opts[] = { { "key", required_argument, NULL, 'K' },
                                          { "url", no_argument, NULL, 'u' },
                                          { "open", no_argument, NULL, 'o' },
                                          { NULL, 0, NULL, 0 } };
    if (cli_wants_help(c->argc, c->argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *key = NULL;
    bool url_only = false, open_it = false;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":", opts, NULL)) != -1) {
        if (opt == 'K')
            key = optarg;
        else if (opt == 'u')
            url_only = true;
        else if (opt == 'o')
            open_it = true;
        else
            return cli_fail(CLI_USAGE, "web: bad option '%s' (kula help web)",
                            c->argv[optind - 1]);
    }
    if (optind != c->argc)
        return cli_fail(CLI_USAGE, "web: unexpected argument '%s' (kula help web)",
                        c->argv[optind]);
    char name[256];
    if (key == NULL) {
        int rc = only_key(c, name, sizeof(name));
        if (rc != CLI_OK)
            return rc;
        key = name;
    }
    int rc = rpc_connect(c);
    if (rc != CLI_OK)
        return rc;
    json_t *res = NULL;
    if ((rc = rpc_call(c, "web_login", json_pack("{s:s}", "key", key), &res, NULL, false)) !=
        CLI_OK)
        return rc;
    const char *token = json_string_value(json_object_get(res, "token"));
    const char *path = json_string_value(json_object_get(res, "path"));
    char base[512];
    snprintf(base, sizeof(base), "%s", c->rpc_url);
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        base[--bl] = '\0';
    char url[1024];
    snprintf(url, sizeof(url), "%s%s#%s", base, path != NULL ? path : "/login",
             token != NULL ? token : "");
    if (c->json) {
        cli_print_json(json_pack("{s:s, s:s, s:O}", "url", url, "key", key, "expires_in_s",
                                 json_object_get(res, "expires_in_s")));
    } else if (url_only) {
        printf("%s\n", url);
    } else {
        printf("Open this address in a browser on this machine within %lld seconds (it works "
               "once),\nlogged in as the wallet key '%s':\n\n  %s\n",
               (long long)json_integer_value(json_object_get(res, "expires_in_s")), key, url);
    }
    json_decref(res);
    fflush(stdout);
    return open_it ? open_browser(url) : CLI_OK;
}
