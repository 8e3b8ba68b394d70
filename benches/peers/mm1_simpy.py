#!/usr/bin/env python3
"""The benchmark M/M/1 (lambda = 0.9/s, mu = 1/s) in SimPy, written the idiomatic SimPy way.

A source process spawns one customer process per arrival; each customer requests a
``simpy.Resource(capacity=1)``, records its wait when granted, and holds the server for an
exponential service time. This is how the SimPy documentation models a queue, so it measures what
a SimPy user would actually get, not a hand-optimised event loop.

Usage: mm1_simpy.py [CUSTOMERS] [SEED]   (defaults: 1000000, 1)

Prints one JSON line: customers, wall_s, customers_per_s, mean_wait_s, simpy_version.
The wall clock covers ``env.run()`` only (not interpreter start-up or the import of simpy).
Random numbers come from Python's ``random.Random`` (Mersenne Twister), two independent streams,
so the waits are statistically but not bit-for-bit those of sim's run.
"""

import json
import random
import sys
import time

try:
    import simpy
except ImportError:
    print("simpy is not installed (pip install simpy)", file=sys.stderr)
    sys.exit(3)

LAMBDA = 0.9
MU = 1.0


def customer(env, server, service_time, stats):
    arrived = env.now
    with server.request() as req:
        yield req
        stats["wait_sum"] += env.now - arrived
        yield env.timeout(service_time)
    stats["served"] += 1


def source(env, customers, server, arrivals, services, stats):
    for _ in range(customers):
        yield env.timeout(arrivals.expovariate(LAMBDA))
        env.process(customer(env, server, services.expovariate(MU), stats))


def main(argv):
    try:
        customers = int(argv[1]) if len(argv) > 1 else 1_000_000
        seed = int(argv[2]) if len(argv) > 2 else 1
    except ValueError:
        print("usage: mm1_simpy.py [CUSTOMERS] [SEED]", file=sys.stderr)
        return 2
    if customers <= 0:
        print("CUSTOMERS must be positive", file=sys.stderr)
        return 2
    arrivals = random.Random(seed * 2)
    services = random.Random(seed * 2 + 1)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    stats = {"wait_sum": 0.0, "served": 0}
    env.process(source(env, customers, server, arrivals, services, stats))
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    served = stats["served"]
    print(
        json.dumps(
            {
                "customers": served,
                "wall_s": wall,
                "customers_per_s": served / wall if wall > 0 else None,
                "mean_wait_s": stats["wait_sum"] / served if served else None,
                "simpy_version": simpy.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
