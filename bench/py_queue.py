"""bench/py_queue.py: the Python baselines of braid's queue benchmarks.

    python3 bench/py_queue.py stream   [items [reps]]
    python3 bench/py_queue.py pingpong [round_trips [reps]]
    python3 bench/py_queue.py fanout   [items [consumers [reps]]]

queue.Queue between threading.Thread's, the same workloads as
bench/bench_queue_c.c. Prints "key value" lines (the best of 'reps' runs),
read by bench/run.lua:
    stream_items_per_s, pingpong_us, fanout_items_per_s
"""
import queue
import sys
import threading
import time


def stream(n):
    q = queue.Queue()
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


def pingpong(n):
    a, b = queue.Queue(), queue.Queue()

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
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
