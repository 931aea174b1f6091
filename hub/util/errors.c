/*
 * errors.c - messages and names for LH_OK, LH_PENDING, LH_IGNORED and the LH_E* codes of
 * include/loophub/error.h.
 */
#include "loophub/error.h"

const char *
lh_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case LH_PENDING:
        return "pending (the outcome is reported later)";
    case LH_IGNORED:
        return "ignored";
#define LH__ERR_MSG(name, msg)                                                                     \
    case LH_E##name:                                                                               \
        return msg;
        LH_ERRNO_MAP(LH__ERR_MSG)
#undef LH__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *
lh_err_name(int err)
{
    switch (err) {
    case 0:
        return "LH_OK";
    case LH_PENDING:
        return "LH_PENDING";
    case LH_IGNORED:
        return "LH_IGNORED";
#define LH__ERR_NAME(name, msg)                                                                    \
    case LH_E##name:                                                                               \
        return "LH_E" #name;
        LH_ERRNO_MAP(LH__ERR_NAME)
#undef LH__ERR_NAME
    default:
        return "LH_E?";
    }
}
