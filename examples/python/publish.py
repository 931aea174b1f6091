#!/usr/bin/python3
"""Publish loophub events from Python: a deploy, then (optionally) an incident on the same
service, as protobuf `loophub.v1.Event` messages (the module generated from proto/loophub.proto),
over the hub's acknowledged ROUTER endpoint. Exits 0 once the hub acknowledged every event as
stored (`ok` or `duplicate`), 1 on a rejection or when no answer comes.

    python3 publish.py --router tcp://127.0.0.1:7702 --service api --env production \
        --deploy-id D-1 --version 1.4.2 --incident INC-1

Needs Debian's python3-zmq and python3-protobuf, and loophub_pb2.py on the path (the build
writes it to <build>/python/; PYTHONPATH=<build>/python).
"""
import argparse
import sys
import time
import uuid

import zmq

import loophub_pb2 as pb


def ns(seconds_ago):
    return int((time.time() - seconds_ago) * 1e9)


def deploy(a):
    ev = pb.Event(id=f"py-deploy-{a.deploy_id}-{uuid.uuid4().hex[:8]}", source="examples/python",
                  time=ns(300), service=a.service, environment=a.env, actor=a.actor)
    ev.hosts.extend(a.host or [])
    ev.deploy.deploy_id = a.deploy_id
    ev.deploy.status = pb.Deploy.STATUS_SUCCEEDED
    ev.deploy.version = a.version
    if a.previous_version:
        ev.deploy.previous_version = a.previous_version
    return ev


def incident(a):
    ev = pb.Event(id=f"py-incident-{a.incident}-{uuid.uuid4().hex[:8]}", source="examples/python",
                  time=ns(60), service=a.service, environment=a.env)
    ev.incident.incident_id = a.incident
    ev.incident.state = pb.Incident.STATE_DETECTED
    ev.incident.severity = pb.SEVERITY_CRITICAL
    ev.incident.title = a.title
    return ev


def send(sock, tag, ev, timeout_ms):
    """[tag][payload] to the ROUTER; the answer is [tag][id][status]... after the commit."""
    sock.send_multipart([tag, ev.SerializeToString()])
    if not sock.poll(timeout_ms):
        raise SystemExit(f"publish.py: no answer from the hub in {timeout_ms} ms for {ev.id}")
    frames = sock.recv_multipart()
    if frames[0] != tag:
        raise SystemExit(f"publish.py: answer for another message: {frames!r}")
    for i in range(1, len(frames) - 1, 2):
        eid, status = frames[i].decode(), frames[i + 1].decode()
        print(f"{eid}: {status}")
        if status not in ("ok", "duplicate"):
            return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--router", default="tcp://127.0.0.1:7702")
    p.add_argument("--service", required=True)
    p.add_argument("--env", required=True)
    p.add_argument("--deploy-id", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--previous-version")
    p.add_argument("--actor", default="")
    p.add_argument("--host", action="append")
    p.add_argument("--incident", help="also an incident with this id, after the deploy")
    p.add_argument("--title", default="raised by examples/python/publish.py")
    p.add_argument("--timeout-ms", type=int, default=10000)
    a = p.parse_args()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(a.router)
    ok = send(sock, b"1", deploy(a), a.timeout_ms)
    if ok and a.incident:
        ok = send(sock, b"2", incident(a), a.timeout_ms)
    sock.close()
    ctx.term()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
