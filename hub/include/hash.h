/*
 * hash.h - 64-bit string hashing (FNV-1a with a final avalanche), used for the dedupe index and
 * for deriving stable alert ids. Not cryptographic.
 */
#ifndef LOOPHUB_HASH_H
#define LOOPHUB_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
lh__hash64_update(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static inline uint64_t
lh__hash64_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#define LH__HASH64_SEED 0xcbf29ce484222325ULL

static inline uint64_t
lh__hash64(const void *p, size_t n)
{
    return lh__hash64_final(lh__hash64_update(LH__HASH64_SEED, p, n));
}

#endif
