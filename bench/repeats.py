#!/usr/bin/env python3
"""bench/repeats.py - writes a day of notifications that repeat, as JSON lines for `loophub import`.

The main workload (workload.c) gives almost every outcome event its own outcome. Real sources
repeat: a Grafana or other alert rule notifies every few minutes while it fires, each
notification an event of its own, and an incident gets updates (reported again, acknowledged)
until it is resolved. This stream has 200 services in prod, 3 hosts each:
  - a change every 1.5-2.5 hours per service (started, then succeeded 5 minutes later);
  - 3 alert rules per service, each on its own host, firing for an hour (a notification every
    5 minutes, 13 in all) then resolved, quiet for 1-3 hours, and again;
  - an incident every 8 hours per service: detected, reported 6 times 10 minutes apart, resolved.
About 75,000 events, in time order, deterministic.

    python3 bench/repeats.py > repeats.jsonl
    /usr/bin/time -f '%U %S' loophub import repeats.jsonl --db a.db -q
"""
import datetime
import json
import random
import sys

random.seed(7)
T0 = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)
DAY = 24 * 3600
events = []


def add(t, body):
    n = len(events) + 1
    body["id"] = "r-%d" % n
    body["time"] = (T0 + datetime.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events.append((t, n, body))


for s in range(200):
    svc = "svc-%03d" % s
    hosts = ["%s-%d" % (svc, h) for h in range(3)]
    t, k = random.randrange(0, 7200), 0
    while t < DAY:
        k += 1
        for status, dt in (("started", 0), ("succeeded", 300)):
            add(t + dt, {"kind": "deploy", "service": svc, "environment": "prod", "hosts": hosts,
                         "actor": "ci", "source": "ci/bench",
                         "deploy": {"deploy_id": "D-%d-%d" % (s, k), "status": status,
                                    "version": "1.%d" % k, "previous_version": "1.%d" % (k - 1),
                                    "commit": "c%d" % k}})
        t += random.randrange(5400, 9000)
    for a in range(3):
        t = random.randrange(0, 10800)
        while t < DAY:
            for r in range(14):
                add(t + r * 300, {"kind": "alert", "service": svc, "environment": "prod",
                                  "hosts": [hosts[a]], "source": "grafana",
                                  "alert": {"name": "Rule%d" % a, "fingerprint": "fp-%d-%d" % (s, a),
                                            "state": "firing" if r < 13 else "resolved",
                                            "severity": "error", "summary": "rule %d on %s" % (a, svc)}})
            t += 13 * 300 + random.randrange(3600, 10800)
    t, k = random.randrange(0, 28800), 0
    while t < DAY:
        k += 1
        for r in range(8):
            state = "detected" if r == 0 else "reported" if r < 7 else "resolved"
            add(t + r * 600, {"kind": "incident", "service": svc, "environment": "prod",
                              "hosts": [hosts[0]], "source": "pagerduty",
                              "incident": {"incident_id": "INC-%d-%d" % (s, k), "state": state,
                                           "severity": "critical", "title": "%s down" % svc}})
        t += 28800

events.sort(key=lambda e: (e[0], e[1]))
out = sys.stdout
for _, _, body in events:
    out.write(json.dumps(body, separators=(",", ":")) + "\n")
