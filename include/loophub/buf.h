/*
 * buf.h - a growable byte buffer, reused across events to keep allocation off the hot path.
 */
#ifndef LOOPHUB_BUF_H
#define LOOPHUB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lh_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} lh_buf_t;

#define LH_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Ensures room for extra more bytes. Returns 0 or LH_ENOMEM (buffer unchanged). */
int lh_buf_reserve(lh_buf_t *b, size_t extra);
/* Appends n bytes. Returns 0 or LH_ENOMEM. */
int lh_buf_append(lh_buf_t *b, const void *p, size_t n);
/* Appends a formatted string (no NUL counted in len, but one is kept after it). */
int lh_buf_printf(lh_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties without freeing. */
static inline void
lh_buf_reset(lh_buf_t *b)
{
    b->len = 0;
}
/* Frees the storage. */
void lh_buf_free(lh_buf_t *b);

#endif
