/*
 * event_json.h - an event as a jansson object, for core modules that build JSON documents around
 * events (the query module's timeline). The codec owns the mapping (codec/codec_json.c); this is
 * the one piece of it other core modules may call.
 */
#ifndef LOOPHUB_EVENT_JSON_H
#define LOOPHUB_EVENT_JSON_H

#include <jansson.h>

#include "loophub/event.h"

/* event -> new JSON object in loophub's JSON form (NULL on out of memory). */
json_t *lh__event_to_json(const lh_event_t *ev);

#endif
