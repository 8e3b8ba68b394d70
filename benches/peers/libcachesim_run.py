#!/usr/bin/env python3
"""Replays a cache trace through libCacheSim's policies (its PyPI package, `libcachesim`, whose
wheel ships the C library) and prints one JSON line per policy and cache size.

Usage: libcachesim_run.py TRACE FORMAT POLICIES SIZES [REPS]
  FORMAT    oracle (oracleGeneral binary) or csv (header time,obj_id,obj_size)
  POLICIES  comma-separated, sim's names: fifo,lru,clock,sieve,lfu,twoq,arc,lirs,tinylfu,s3fifo,opt
  SIZES     comma-separated cache sizes in bytes (with size-1 objects: objects)
  REPS      runs per policy and size (default 1): wall_s is their median, walls lists them all

Each line: policy, libcachesim_name, size, requests, misses, miss_ratio, byte_miss_ratio,
wall_s, walls, requests_per_s, version. The wall clock covers the C simulation loop only
(`process_trace` with the C reader: no Python per request), not interpreter start-up, imports
or reader set-up. A policy name libCacheSim lacks prints {"policy": NAME, "missing": true}.

libCacheSim's settings are its defaults except where noted: no per-object metadata counted
(consider_obj_metadata=False), CLOCK with one bit and new objects' bit clear (init_freq=0,
n_bit_counter=1), and objects of size 0 skipped by its reader (sim's traces have none).
"""

import json
import sys
import time

try:
    import libcachesim as lcs
except ImportError:
    print("libcachesim is not installed (pip install libcachesim)", file=sys.stderr)
    sys.exit(3)

# sim's policy names and libCacheSim's classes.
POLICIES = {
    "fifo": lambda n: lcs.FIFO(n),
    "lru": lambda n: lcs.LRU(n),
    "clock": lambda n: lcs.Clock(n, init_freq=0, n_bit_counter=1),
    "sieve": lambda n: lcs.Sieve(n),
    "lfu": lambda n: lcs.LFU(n),
    "twoq": lambda n: lcs.TwoQ(n),
    "arc": lambda n: lcs.ARC(n),
    "lirs": lambda n: lcs.LIRS(n),
    "tinylfu": lambda n: lcs.WTinyLFU(n),
    "s3fifo": lambda n: lcs.S3FIFO(n),
    "opt": lambda n: lcs.Belady(n),
}


def reader(path, fmt):
    if fmt == "oracle":
        return lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
    if fmt == "csv":
        p = lcs.ReaderInitParam()
        p.time_field, p.obj_id_field, p.obj_size_field = 1, 2, 3
        p.has_header = True
        p.delimiter = ","
        p.obj_id_is_num = True
        return lcs.TraceReader(path, lcs.TraceType.CSV_TRACE, p)
    print(f"unknown format {fmt!r}: expected oracle or csv", file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path, fmt, policies, sizes = sys.argv[1:5]
    reps = max(1, int(sys.argv[5])) if len(sys.argv) == 6 else 1
    r = reader(path, fmt)
    n = r.get_num_of_req()
    for name in policies.split(","):
        make = POLICIES.get(name)
        for size in [int(s) for s in sizes.split(",")]:
            if make is None:
                print(json.dumps({"policy": name, "missing": True}))
                break
            walls = []
            for _ in range(reps):
                cache = make(size)
                start = time.perf_counter()
                miss_ratio, byte_miss_ratio = cache.process_trace(r)
                walls.append(time.perf_counter() - start)
            wall = sorted(walls)[len(walls) // 2]
            print(json.dumps({
                "policy": name,
                "libcachesim_name": cache.cache_name,
                "size": size,
                "requests": n,
                "misses": round(miss_ratio * n),
                "miss_ratio": miss_ratio,
                "byte_miss_ratio": byte_miss_ratio,
                "wall_s": wall,
                "walls": walls,
                "requests_per_s": n / wall if wall > 0 else None,
                "version": lcs.__version__,
            }), flush=True)


if __name__ == "__main__":
    main()
