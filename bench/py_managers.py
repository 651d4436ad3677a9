"""Python baselines for bench/managers_bench.lua (same workloads)."""
import multiprocessing as mp, time

def dict_roundtrip(n=10000):
    with mp.Manager() as m:
        d = m.dict()
        d[0] = 0
        t0 = time.perf_counter()
        for i in range(1, n + 1): d[i] = i
        for i in range(1, n + 1): assert d[i] == i
        return 2 * n, time.perf_counter() - t0

def producer(q, n):
    for i in range(1, n + 1): q.put(i)

def queue_proxy_stream(n=10000):
    with mp.Manager() as m:
        q = m.Queue()
        q.qsize()
        p = mp.Process(target=producer, args=(q, n))
        t0 = time.perf_counter(); p.start()
        for i in range(1, n + 1): assert q.get() == i
        dt = time.perf_counter() - t0; p.join()
        return n, dt

if __name__ == "__main__":
    import sys
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3  # bench/run.lua: 1 a turn
    mp.set_start_method("fork")
    for name, f in [("dict_roundtrip", dict_roundtrip),
                    ("queue_proxy_stream", queue_proxy_stream)]:
        best = 0
        for _ in range(reps):
            n, dt = f()
            best = max(best, n / dt)
        print("%-18s %10.0f ops/s" % (name, best))
