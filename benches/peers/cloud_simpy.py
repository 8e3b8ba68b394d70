#!/usr/bin/env python3
"""The benchmark cloud service of scenarios/cloud-bench.scn in SimPy, written the idiomatic way.

The model, the same as the scenario's:
- a service of 8 instances, each serving one request at a time (``simpy.Resource(capacity=1)``)
  for an exponential time of mean 1 ms and queueing the rest in arrival order;
- one client sending calls as a Poisson process at 6,400 a second (80% of the service's
  capacity);
- the client's own balancer: the power of two choices on the numbers of requests the client has
  outstanding at each instance (two distinct instances drawn at random, the less loaded one
  taken, the first drawn on a tie);
- each attempt is given up after 20 ms (``env.any_of([served, env.timeout(20 ms)])``, the SimPy
  idiom for a timeout), while the instance goes on serving it; a call is retried up to twice,
  after a backoff drawn uniformly up to 1 ms x 2^(k-1) for retry k ("full jitter").

A source process spawns one process per call; each attempt spawns one process at its instance
that requests the instance's resource and holds it for the service time. This is how the SimPy
documentation models requests to servers, so it measures what a SimPy user would get, not a
hand-optimised event loop.

Usage: cloud_simpy.py [CALLS] [SEED]   (defaults: 100000, 1)

Prints one JSON line: calls, ok, failed, attempts, timeouts, retries, wall_s, calls_per_s,
mean_latency_s (of successful calls, retries included), simpy_version. The wall clock covers
``env.run()`` only (not interpreter start-up or the import of simpy). Random numbers come from
Python's ``random.Random`` (Mersenne Twister), one stream per purpose, so the run is
statistically, not bit for bit, the scenario's.
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

INSTANCES = 8
RATE = 6400.0  # calls per second
SERVICE_MEAN = 1e-3  # seconds
TIMEOUT = 20e-3
RETRIES = 2
BACKOFF = 1e-3  # the wait before retry k is drawn uniformly from [0, BACKOFF * 2^(k-1))
BACKOFF_MAX = 1.0


class Cloud:
    """The instances, the client's view of them, its random streams and what it counted."""

    def __init__(self, env, seed):
        self.env = env
        self.instances = [simpy.Resource(env, capacity=1) for _ in range(INSTANCES)]
        self.outstanding = [0] * INSTANCES
        self.arrivals = random.Random(seed * 4)
        self.services = random.Random(seed * 4 + 1)
        self.balance = random.Random(seed * 4 + 2)
        self.backoff = random.Random(seed * 4 + 3)
        self.stats = dict.fromkeys(
            ["calls", "ok", "failed", "attempts", "timeouts", "retries", "latency_sum"], 0
        )

    def pick(self):
        """Power of two choices on the client's outstanding counts."""
        n = len(self.outstanding)
        a = self.balance.randrange(n)
        b = self.balance.randrange(n - 1)
        if b >= a:
            b += 1
        return b if self.outstanding[b] < self.outstanding[a] else a


def serve(env, cloud, instance):
    """One attempt at its instance: wait for the instance, then hold it for the service time."""
    with cloud.instances[instance].request() as req:
        yield req
        yield env.timeout(cloud.services.expovariate(1.0 / SERVICE_MEAN))


def call(env, cloud):
    """One call: attempts with a timeout each, retried after a jittered exponential backoff."""
    stats = cloud.stats
    started = env.now
    for attempt in range(RETRIES + 1):
        if attempt > 0:
            stats["retries"] += 1
            wait = min(BACKOFF_MAX, BACKOFF * 2 ** (attempt - 1))
            yield env.timeout(cloud.backoff.random() * wait)
        i = cloud.pick()
        cloud.outstanding[i] += 1
        stats["attempts"] += 1
        served = env.process(serve(env, cloud, i))
        outcome = yield env.any_of([served, env.timeout(TIMEOUT)])
        cloud.outstanding[i] -= 1
        if served in outcome:
            stats["ok"] += 1
            stats["latency_sum"] += env.now - started
            return
        stats["timeouts"] += 1
    stats["failed"] += 1


def source(env, cloud, calls):
    for _ in range(calls):
        yield env.timeout(cloud.arrivals.expovariate(RATE))
        cloud.stats["calls"] += 1
        env.process(call(env, cloud))


def main(argv):
    try:
        calls = int(argv[1]) if len(argv) > 1 else 100_000
        seed = int(argv[2]) if len(argv) > 2 else 1
    except ValueError:
        print("usage: cloud_simpy.py [CALLS] [SEED]", file=sys.stderr)
        return 2
    if calls <= 0:
        print("CALLS must be positive", file=sys.stderr)
        return 2
    env = simpy.Environment()
    cloud = Cloud(env, seed)
    env.process(source(env, cloud, calls))
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    s = cloud.stats
    out = {k: s[k] for k in ["calls", "ok", "failed", "attempts", "timeouts", "retries"]}
    out.update(
        {
            "wall_s": wall,
            "calls_per_s": s["calls"] / wall if wall > 0 else None,
            "mean_latency_s": s["latency_sum"] / s["ok"] if s["ok"] else None,
            "simpy_version": simpy.__version__,
        }
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
