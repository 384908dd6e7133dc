/* kulad.c -- entry point of the Kula ledger node. */
#include <stdio.h>

#include "kula/daemon/config.h"
#include "kula/base/log.h"
#include "kula/daemon/node.h"

int main(int argc, char **argv)
{
    static kula_config cfg;
    kula_error e;
    if (kula_config_load(&cfg, argc, argv, &e) != 0) {
        fprintf(stderr, "kulad: %s\n", e.what);
        return 2;
    }
    if (cfg.help) {
        fputs(kula_config_usage, stdout);
        return 0;
    }
    if (cfg.version) {
        printf("kulad %s\n", KULA_VERSION_STRING);
        return 0;
    }
    if (cfg.verbosity > 0)
        kula_log_set_level(KULA_LOG_DEBUG);
    return kula_node_run(&cfg);
}
