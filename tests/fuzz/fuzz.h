/*
 * fuzz.h - what the libFuzzer targets share: the entry point's prototype (libFuzzer and the
 * replay driver both call it) and FUZZ_CHECK, the oracle that turns a broken property into a
 * crash libFuzzer records (and the replay test reports).
 */
#ifndef LOOPHUB_FUZZ_H
#define LOOPHUB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one input through a target. Always returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when a property the codecs promise does not hold. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Equal C strings, NULL equal only to NULL. */
static inline int
fuzz_streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#endif
