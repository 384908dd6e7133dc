/* error.c -- messages for the error enum defined in kula/base/error.h. */
#include "kula/base/error.h"

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
