"""Python baseline for bench/subprocess_bench.lua: subprocess.run(["true"])
one after another (us per run), and 100 runs from 8 threads (ms, 13 per
thread scaled to 100), best of REPS rounds. Prints `key value` lines."""
import subprocess, sys, threading, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5

subprocess.run(["true"])
best = min(
    (lambda t0: (time.perf_counter() - t0) / n)(
        (lambda t0: ([subprocess.run(["true"]) for _ in range(n)], t0)[1])(time.perf_counter()))
    for _ in range(reps))

def worker(k):
    for _ in range(k):
        subprocess.run(["true"])

tbest = 1e9
for _ in range(reps):
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(13,)) for _ in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    tbest = min(tbest, (time.perf_counter() - t0) * 100 / 104)
print("single_us %.1f" % (best * 1e6))
print("threads_ms %.2f" % (tbest * 1e3))
