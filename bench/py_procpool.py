#!/usr/bin/env python3
"""Python baselines for bench/procpool_bench.lua. Prints "key value" lines.

  py_procpool.py N CS REPS   multiprocessing.Pool(2).map(sq, range(N), CS)
                             and ProcessPoolExecutor(2).map(sq, range(N),
                             chunksize=CS), each the best of REPS runs (ms)
"""
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool

from py_pool import best, sq  # the workers import py_pool to find sq


def main():
    n, cs, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with Pool(2) as p:
        p.map(sq, range(100))
        print("pool_ms", best(reps, lambda: p.map(sq, range(n), cs)))
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(sq, range(100)))
        print("executor_ms", best(reps, lambda: sum(ex.map(sq, range(n), chunksize=cs))))


if __name__ == "__main__":
    main()
