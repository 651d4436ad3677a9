"""bench/py_queue.py: the Python baselines of braid's queue benchmarks.

    python3 bench/py_queue.py stream   [items [reps]]
    python3 bench/py_queue.py sq_stream [items [reps]]
    python3 bench/py_queue.py pingpong [round_trips [reps]]
    python3 bench/py_queue.py fanout   [items [consumers [reps]]]
    python3 bench/py_queue.py sq_pingpong [round_trips [reps]]
    python3 bench/py_queue.py ring     [threads [hops [reps]]]
    python3 bench/py_queue.py pairs    [pairs [round_trips [reps]]]

queue.Queue between threading.Thread's (queue.SimpleQueue for sq_stream,
sq_pingpong, ring and pairs: the spin rows of bench/spin_bench.lua), the same workloads
as bench/bench_queue_c.c. Prints "key value" lines (the best of 'reps'
runs), read by bench/run.lua:
    stream_items_per_s, sq_stream_items_per_s, pingpong_us, fanout_items_per_s, sq_pingpong_us,
    ring_hop_us, pairs_us
"""
import queue
import sys
import threading
import time


def stream(n, make=queue.Queue):
    q = make()
    out = []

    def producer():
        put = q.put
        for i in range(1, n + 1):
            put(i)
        put(-1)

    def consumer():
        get = q.get
        s = 0
        while True:
            v = get()
            if v < 0:
                break
            s += v
        out.append(s)

    t0 = time.perf_counter()
    tc = threading.Thread(target=consumer)
    tp = threading.Thread(target=producer)
    tc.start()
    tp.start()
    tp.join()
    tc.join()
    dt = time.perf_counter() - t0
    assert out[0] == n * (n + 1) // 2
    return n / dt


def pingpong(n, make=queue.Queue):
    a, b = make(), make()

    def echo():
        while True:
            v = a.get()
            if v < 0:
                break
            b.put(v + 1)

    t = threading.Thread(target=echo)
    t.start()
    a.put(0)
    b.get()
    t0 = time.perf_counter()
    for i in range(n):
        a.put(i)
        assert b.get() == i + 1
    dt = time.perf_counter() - t0
    a.put(-1)
    t.join()
    return dt * 1e6 / n


def sq_pingpong(n):
    return pingpong(n, queue.SimpleQueue)


def ring(k, hops):
    qs = [queue.SimpleQueue() for _ in range(k)]
    done = queue.SimpleQueue()

    def member(i):
        get, put = qs[i].get, qs[(i + 1) % k].put
        while True:
            v = get()
            if v < 0:
                put(v)
                return
            v += 1
            if v == hops:
                done.put(v)
            else:
                put(v)

    ts = [threading.Thread(target=member, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    t0 = time.perf_counter()
    qs[0].put(0)
    assert done.get() == hops
    dt = time.perf_counter() - t0
    qs[0].put(-1)
    for t in ts:
        t.join()
    return dt * 1e6 / hops


def pairs(np, n):
    go = threading.Event()

    def pinger(a, b):
        go.wait()
        for i in range(n):
            a.put(i)
            assert b.get() == i + 1
        a.put(-1)

    def echo(a, b):
        while True:
            v = a.get()
            if v < 0:
                return
            b.put(v + 1)

    ts = []
    for _ in range(np):
        a, b = queue.SimpleQueue(), queue.SimpleQueue()
        ts.append(threading.Thread(target=echo, args=(a, b)))
        ts.append(threading.Thread(target=pinger, args=(a, b)))
    for t in ts:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    return dt * 1e6 / n


def fanout(n, nc):
    q = queue.Queue()
    sums = []

    def producer():
        put = q.put
        for i in range(1, n + 1):
            put(i)
        for _ in range(nc):
            put(-1)

    def consumer():
        get = q.get
        s = 0
        while True:
            v = get()
            if v < 0:
                break
            s += v
        sums.append(s)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=consumer) for _ in range(nc)]
    for t in ts:
        t.start()
    tp = threading.Thread(target=producer)
    tp.start()
    tp.join()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    assert sum(sums) == n * (n + 1) // 2
    return n / dt


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    args = [int(x) for x in argv[2:]]
    if cmd == "stream":
        n = args[0] if len(args) > 0 else 1000000
        reps = args[1] if len(args) > 1 else 3
        print("stream_items_per_s %.0f" % max(stream(n) for _ in range(reps)))
    elif cmd == "sq_stream":
        n = args[0] if len(args) > 0 else 1000000
        reps = args[1] if len(args) > 1 else 3
        print("sq_stream_items_per_s %.0f" %
              max(stream(n, queue.SimpleQueue) for _ in range(reps)))
    elif cmd == "pingpong":
        n = args[0] if len(args) > 0 else 100000
        reps = args[1] if len(args) > 1 else 3
        print("pingpong_us %.3f" % min(pingpong(n) for _ in range(reps)))
    elif cmd == "fanout":
        n = args[0] if len(args) > 0 else 1000000
        nc = args[1] if len(args) > 1 else 4
        reps = args[2] if len(args) > 2 else 3
        print("fanout_items_per_s %.0f" %
              max(fanout(n, nc) for _ in range(reps)))
    elif cmd == "sq_pingpong":
        n = args[0] if len(args) > 0 else 100000
        reps = args[1] if len(args) > 1 else 3
        print("sq_pingpong_us %.3f" % min(sq_pingpong(n) for _ in range(reps)))
    elif cmd in ("ring", "pairs"):
        k = args[0] if len(args) > 0 else (4 if cmd == "ring" else 8)
        n = args[1] if len(args) > 1 else (20000 if cmd == "ring" else 10000)
        reps = args[2] if len(args) > 2 else 3
        f = ring if cmd == "ring" else pairs
        key = "ring_hop_us" if cmd == "ring" else "pairs_us"
        print("%s %.3f" % (key, min(f(k, n) for _ in range(reps))))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
