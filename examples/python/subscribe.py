#!/usr/bin/python3
"""Subscribe to loophub's correlated alerts from Python: a SUB socket on the hub's alerts PUB
endpoint, topic prefix `alert.<environment>.<service>`, each alert a protobuf
`loophub.v1.CorrelatedAlert` (the hub's default --alerts-format). Prints one line per alert
(its id, seq, what happened, the ranked suspects with their reasons, the rollback target) and
exits after --count alerts (0: never), or 1 when none came within --timeout-ms.

    python3 subscribe.py --pub tcp://127.0.0.1:7703 --prefix alert.production. --count 1

Needs Debian's python3-zmq and python3-protobuf, and loophub_pb2.py on the path (the build
writes it to <build>/python/; PYTHONPATH=<build>/python).
"""
import argparse
import sys

import zmq

import loophub_pb2 as pb


def describe(ca):
    kind = pb.CorrelatedAlert.Kind.Name(ca.kind).removeprefix("KIND_").lower()
    out = [f"alert {ca.id} seq {ca.seq} rev {ca.revision}: {kind} on {ca.service} in {ca.environment}"]
    for rank, s in enumerate(ca.suspects, 1):
        out.append(f"  {rank}. {s.deploy_id} {s.version} score {s.score:.2f}: " + "; ".join(s.reasons))
    if ca.rollback_version:
        out.append(f"  roll back to {ca.rollback_version}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pub", default="tcp://127.0.0.1:7703")
    p.add_argument("--prefix", default="alert.")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout-ms", type=int, default=0, help="0: wait for ever")
    a = p.parse_args()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, a.prefix.encode())
    sock.connect(a.pub)
    print(f"subscribed to {a.prefix!r} on {a.pub}", flush=True)
    seen = 0
    while a.count == 0 or seen < a.count:
        if a.timeout_ms and not sock.poll(a.timeout_ms):
            print(f"subscribe.py: no alert in {a.timeout_ms} ms", file=sys.stderr)
            return 1
        topic, payload = sock.recv_multipart()
        ca = pb.CorrelatedAlert()
        ca.ParseFromString(payload)
        print(f"[{topic.decode()}] " + describe(ca), flush=True)
        seen += 1
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
