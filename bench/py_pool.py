#!/usr/bin/env python3
"""Python baselines for bench/pool_bench.lua. Prints "key value" lines.

  py_pool.py tpe N REPS          ThreadPoolExecutor(2).map(sq, range(N))
  py_pool.py pool N CS REPS      multiprocessing.Pool(2).map(sq, range(N), CS)
                                 (CS 0: Python's default chunksize)
  py_pool.py speedup TOTAL PARTS REPS
                                 CPU-bound job over Pool(cpu_count) vs sequential
Every figure is the best of REPS runs, in milliseconds.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool


def sq(x):
    return x * x


def burn(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def best(reps, f):
    b = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t0)
    return b * 1e3


def main():
    what = sys.argv[1]
    if what == "tpe":
        n, reps = int(sys.argv[2]), int(sys.argv[3])
        with ThreadPoolExecutor(2) as ex:
            list(ex.map(sq, range(100)))
            print("ms", best(reps, lambda: sum(ex.map(sq, range(n)))))
    elif what == "pool":
        n, cs, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        with Pool(2) as p:
            p.map(sq, range(100))
            if cs > 0:
                print("ms", best(reps, lambda: p.map(sq, range(n), cs)))
            else:
                print("ms", best(reps, lambda: p.map(sq, range(n))))
    elif what == "speedup":
        total, parts, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        work = [total // parts] * parts
        seq = best(reps, lambda: [burn(w) for w in work])
        with Pool(os.cpu_count()) as p:
            p.map(burn, [1] * parts)
            par = best(reps, lambda: p.map(burn, work, 1))
        print("seq_ms", seq)
        print("par_ms", par)
        print("speedup", seq / par)
    else:
        sys.exit("unknown workload " + what)


if __name__ == "__main__":
    main()
