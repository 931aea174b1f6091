/*
 * hub.h (core) - what the core and the unit tests see of the hub beyond its public API
 * (loophub/hub.h, which this includes): the store it owns.
 */
#ifndef LOOPHUB_CORE_HUB_H
#define LOOPHUB_CORE_HUB_H

#include "loophub/hub.h"
#include "store.h"

/* The hub's own store (tests read it back with SQL). Only between loop turns, on the hub's
 * thread; never closed by the caller. */
lh_store_t *lh_hub_store(lh_hub_t *hub);

/* Test only: how old the DORA gauges of /metrics may get before a scrape wakes their refresher
 * (default 60 s; 0 restores it). Process-wide. */
void lh__hub_test_dora_period(int64_t ns);

#endif
