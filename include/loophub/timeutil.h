/*
 * timeutil.h - event times and durations as loophub shows them.
 *
 * Times are int64 nanoseconds since the Unix epoch, UTC. Text form is RFC 3339
 * ("2026-11-26T10:00:00Z", fractions and offsets accepted on input). Durations are written
 * "90s", "30m", "2h", "7d", and may combine ("1h30m") or use "ms" on input.
 */
#ifndef LOOPHUB_TIMEUTIL_H
#define LOOPHUB_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define LH_NS_PER_MS 1000000LL
#define LH_NS_PER_SEC 1000000000LL

/* Wall clock now, ns since epoch. */
int64_t lh_now_ns(void);
/* Monotonic clock, ns (for timeouts and batch deadlines). */
int64_t lh_mono_ns(void);

/* Parses RFC 3339 ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123+02:00"; 't'/'z' and a space
 * for 'T' are accepted). Returns 0 or LH_EINVAL (range or syntax). */
int lh_time_parse(const char *s, int64_t *ns);

/* Writes RFC 3339 UTC with 'Z' and the fraction only when non-zero (trailing zeros trimmed).
 * Returns the length written, or LH_ERANGE when buf is too small (needs at most 36 bytes). */
int lh_time_format(int64_t ns, char *buf, size_t len);

/* Parses "500ms", "90s", "30m", "2h", "7d", "1h30m"; a bare number is seconds. Returns 0 or
 * LH_EINVAL. Negative durations are invalid. */
int lh_duration_parse(const char *s, int64_t *ns);

/* Writes the shortest exact form made of d/h/m/s ("2h", "90s" -> "1m30s", "0s"); sub-second
 * remainders are written as "ms". Returns length or LH_ERANGE. */
int lh_duration_format(int64_t ns, char *buf, size_t len);

/* Writes a human span for a responder: "12m", "2h5m", "45s", "3d" (rounded to two units). */
int lh_duration_human(int64_t ns, char *buf, size_t len);

#endif
