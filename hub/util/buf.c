/*
 * buf.c - growable byte buffer. Capacity doubles; data is always followed by a NUL byte when
 * anything was appended, so text can be used as a C string.
 */
#include "loophub/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"

int
lh_buf_reserve(lh_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len - 1)
        return LH_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return LH_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
lh_buf_append(lh_buf_t *b, const void *p, size_t n)
{
    if (lh_buf_reserve(b, n) < 0)
        return LH_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int
lh_buf_printf(lh_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LH_EINVAL;
    if (lh_buf_reserve(b, (size_t)n) < 0)
        return LH_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void
lh_buf_free(lh_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
