/*
 * freeport.h - a free TCP port on 127.0.0.1 for a hub a test or the bench is about to start,
 * shared by tests/testutil.c and bench/proc.c.
 *
 * Ports are picked below the kernel's ephemeral range (ip_local_port_range), walking on from a
 * start that differs per process. A port bind(0) returns comes from that very range: between the
 * pick and the hub's bind, an outgoing connection of a process running beside (ctest -j) can be
 * given it, and the hub fails to start ("Address already in use"; seen under ctest -j2). Below
 * the range only a bind can take a port, and processes walk from different starts. A process
 * never gets the same port twice (short of asking for the whole range).
 */
#ifndef LOOPHUB_TESTS_FREEPORT_H
#define LOOPHUB_TESTS_FREEPORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Where ports are picked: [*lo, *hi], outside the ephemeral range. */
static inline void
lh_freeport_range(int *lo, int *hi)
{
    int elo = 32768, ehi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &elo, &ehi) != 2)
            elo = 32768, ehi = 60999;
        fclose(f);
    }
    if (elo - 10000 >= 4096) {
        *lo = 10000;
        *hi = elo - 1;
    } else {
        *lo = ehi + 1;
        *hi = 65535;
    }
}

/* Any free port, from bind(0): where the ephemeral range leaves no room outside it. */
static inline int
lh_freeport_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A port free on 127.0.0.1 a moment ago, or -1 when none is. */
static inline int
lh_freeport(void)
{
    static unsigned next;
    int lo, hi;
    lh_freeport_range(&lo, &hi);
    if (hi - lo < 1024)
        return lh_freeport_any();
    unsigned span = (unsigned)(hi - lo + 1);
    if (!next)
        next = (unsigned)getpid() * 7919u + (unsigned)time(NULL);
    for (unsigned tries = 0; tries < span; tries++) {
        int port = lo + (int)(next++ % span);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

#endif
