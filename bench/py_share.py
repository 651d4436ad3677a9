#!/usr/bin/env python3
"""Python baseline for bench/share_bench.lua (starmap_shared). Prints
"key value" lines.

  py_share.py N LEN CALLS REPS   CALLS calls of Pool(2).starmap(f, items)
                                 where each of the N items is (vec, i) with
                                 the same LEN-float list vec (default
                                 chunksize): the best of REPS runs, as wall
                                 ms and parent CPU ms
"""
import sys
import time
from multiprocessing import Pool

from py_sharef import f  # the workers import it to find f


def main():
    n, ln, calls, reps = (int(a) for a in sys.argv[1:5])
    vec = [float(i) for i in range(ln)]
    items = [(vec, i) for i in range(n)]
    best_wall = best_cpu = float("inf")
    with Pool(2) as p:
        p.starmap(f, items[:10])
        for _ in range(reps):
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                r = p.starmap(f, items)
            w1, c1 = time.perf_counter(), time.process_time()
            assert len(r) == n
            best_wall = min(best_wall, (w1 - w0) * 1e3)
            best_cpu = min(best_cpu, (c1 - c0) * 1e3)
    print("wall_ms", best_wall)
    print("cpu_ms", best_cpu)


if __name__ == "__main__":
    main()
