/* hostport.c -- network addresses as people write them: HOST:PORT. */
#include "kula/base/hostport.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "kula/base/error.h"

int kula_hostport_parse(kula_hostport *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL)
        return KULA_ECONFIG;
    const char *colon;
    char host[64];
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
            return KULA_ECONFIG;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return KULA_ECONFIG;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || (size_t)(colon - text) >= sizeof(host) || colon == text)
            return KULA_ECONFIG;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        if (strcmp(host, "localhost") == 0)
            strcpy(host, "127.0.0.1");
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1)
            return KULA_ECONFIG;
    }
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return KULA_ECONFIG;
    unsigned long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return KULA_ECONFIG;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535)
        return KULA_ECONFIG;
    strcpy(out->host, host);
    out->port = (uint16_t)port;
    return KULA_OK;
}

void kula_hostport_format(char *buf, size_t len, const kula_hostport *hp)
{
    if (strchr(hp->host, ':') != NULL)
        snprintf(buf, len, "[%s]:%u", hp->host, hp->port);
    else
        snprintf(buf, len, "%s:%u", hp->host, hp->port);
}

bool kula_hostport_is_loopback(const kula_hostport *hp)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, hp->host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, hp->host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
