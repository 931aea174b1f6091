/*
 * loophub.h - every public header of libloophub, for programs that embed the hub, build and
 * encode events, or write an adapter. examples/embed.c shows the whole round trip: events in,
 * a correlated alert out, in one process.
 */
#ifndef LOOPHUB_LOOPHUB_H
#define LOOPHUB_LOOPHUB_H

#include "loophub/adapter.h"
#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/registry.h"
#include "loophub/send.h"
#include "loophub/report.h"
#include "loophub/timeline.h"
#include "loophub/timeutil.h"

#endif
