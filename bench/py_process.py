"""Python baselines for bench/process_bench.lua (same workloads)."""
import multiprocessing as mp, time, sys

def nothing(): pass

def start_join(method, n):
    ctx = mp.get_context(method)
    p = ctx.Process(target=nothing); p.start(); p.join()
    t0 = time.perf_counter()
    for _ in range(n):
        p = ctx.Process(target=nothing); p.start(); p.join()
    return n, time.perf_counter() - t0

def producer(q, n):
    for i in range(n): q.put(i)

def queue_stream(n=200000):
    q = mp.Queue()
    p = mp.Process(target=producer, args=(q, n))
    t0 = time.perf_counter(); p.start()
    for _ in range(n): q.get()
    dt = time.perf_counter() - t0; p.join()
    return n, dt

def echo(c, n):
    for _ in range(n): c.send(c.recv())

def pipe_pingpong(n=20000):
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b, n)); p.start()
    t0 = time.perf_counter()
    for i in range(n): a.send(i); a.recv()
    dt = time.perf_counter() - t0; p.join()
    return n, dt

if __name__ == "__main__":
    mp.set_start_method("fork")
    for name, f in [("start_fork", lambda: start_join("fork", 200)),
                    ("start_spawn", lambda: start_join("spawn", 20)),
                    ("start_forkserver", lambda: start_join("forkserver", 200)),
                    ("queue_stream", queue_stream), ("pipe_pingpong", pipe_pingpong)]:
        n, dt = f()
        print("%-18s %10.0f ops/s  %8.3f ms/op" % (name, n / dt, dt / n * 1000))
