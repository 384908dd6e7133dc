/* error.c -- messages for the error enum defined in kula/base/error.h, and
 * the filling of a kula_error. */
#include "kula/base/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *kula_strerror(int err)
{
    switch (err) {
#define KULA_ERR_MSG_(name, num, msg) case -(num): return msg;
    KULA_ERRORS(KULA_ERR_MSG_)
#undef KULA_ERR_MSG_
    }
    return "unknown error";
}

const char *kula_errname(int err)
{
    switch (err) {
#define KULA_ERR_NAME_(name, num, msg) case -(num): return #name;
    KULA_ERRORS(KULA_ERR_NAME_)
#undef KULA_ERR_NAME_
    }
    return "?";
}

int kula_error_set(kula_error *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->code = code;
    e->tx_index = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof e->what, fmt, ap);
    va_end(ap);
    return code;
}
