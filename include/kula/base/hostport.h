/* hostport.h -- network addresses as people write them: "HOST:PORT" or
 * "[V6]:PORT", with an IP literal (no name lookup: a node's addresses are
 * configured, not resolved). */
#ifndef KULA_HOSTPORT_H
#define KULA_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"

typedef struct kula_hostport {
    char host[64];   /* an IP literal, without brackets */
    uint16_t port;
} kula_hostport;

/* Parses "HOST:PORT" or "[V6]:PORT"; HOST is an IPv4/IPv6 literal or
 * "localhost" (taken as 127.0.0.1).  Returns: 0 or KULA_ECONFIG. */
KULA_MUST_CHECK
int kula_hostport_parse(kula_hostport *out, const char *text);
/* Returns: whether hp is a loopback address (127.0.0.0/8 or ::1). */
bool kula_hostport_is_loopback(const kula_hostport *hp);
/* Formats as "host:port" or "[v6]:port". */
void kula_hostport_format(char *buf, size_t len, const kula_hostport *hp);

#endif /* KULA_HOSTPORT_H */
