"""Python baselines for bench/bigx_bench.lua (same workloads): 64 MiB of
bytes from the parent to a child through mp.Queue, Pipe.send,
Pipe.send_bytes, and back as a Pool result; 100k records through an
mp.Queue and back as a Pool result. Prints "name rate" lines (bytes/s, records/s), best of 3."""
import multiprocessing as mp, time

N = 64 * 1024 * 1024
RECORDS = 100000
BIG = b"0123456789abcdef" * (N // 16)

def q_child(q, c):
    while True:
        s = q.get()
        if s is False: break
        c.send(len(s))

def pipe_child(y, c):
    while True:
        s = y.recv()
        if s is False: break
        c.send(len(s))

def bytes_child(y, c):
    while True:
        s = y.recv_bytes()
        if s == b"": break
        c.send(len(s))

def one_way(ch, put, target):
    a, b = mp.Pipe()
    p = mp.Process(target=target, args=(ch, b)); p.start()
    put(b"warm"); a.recv()
    t0 = time.perf_counter(); put(BIG); n = a.recv(); dt = time.perf_counter() - t0
    assert n == N
    put(False); p.join()
    return N, dt

def big_string_mpqueue():
    q = mp.Queue()
    return one_way(q, q.put, q_child)

def big_string_pipe():
    x, y = mp.Pipe()
    return one_way(y, x.send, pipe_child)

def big_string_pipe_bytes():
    x, y = mp.Pipe()
    return one_way(y, lambda v: x.send_bytes(v or b""), bytes_child)

def init_big(n):
    global WBIG
    WBIG = b"0123456789abcdef" * (n // 16)

def get_len(): return len(WBIG)
def get_big(): return WBIG

def big_string_pool_result():
    with mp.Pool(1, init_big, (N,)) as pool:
        assert pool.apply(get_len) == N
        t0 = time.perf_counter(); s = pool.apply(get_big); dt = time.perf_counter() - t0
        assert len(s) == N
    return N, dt

def table_child(q, c):
    while True:
        t = q.get()
        if t is False: break
        c.send(t[-1]["vals"][2] if t else 0)

def big_table_mpqueue():
    T = [{"id": i, "name": "item%d" % i, "vals": [i, 2 * i, 3 * i]}
         for i in range(1, RECORDS + 1)]
    q = mp.Queue(); a, b = mp.Pipe()
    p = mp.Process(target=table_child, args=(q, b)); p.start()
    q.put([]); a.recv()
    t0 = time.perf_counter(); q.put(T); last = a.recv(); dt = time.perf_counter() - t0
    assert last == 3 * RECORDS
    q.put(False); p.join()
    return RECORDS, dt

def init_table(n):
    global WT
    WT = [{"id": i, "name": "item%d" % i, "vals": [i, 2 * i, 3 * i]}
          for i in range(1, n + 1)]

def get_table_len(): return len(WT)
def get_table(): return WT

def big_table_pool_result():
    with mp.Pool(1, init_table, (RECORDS,)) as pool:
        assert pool.apply(get_table_len) == RECORDS
        t0 = time.perf_counter(); T = pool.apply(get_table); dt = time.perf_counter() - t0
        assert T[-1]["vals"][2] == 3 * RECORDS
    return RECORDS, dt

def big_table_pool_arg():
    T = [{"id": i, "name": "item%d" % i, "vals": [i, 2 * i, 3 * i]}
         for i in range(1, RECORDS + 1)]
    with mp.Pool(1) as pool:
        assert pool.apply(len, ([1],)) == 1
        t0 = time.perf_counter(); n = pool.apply(len, (T,)); dt = time.perf_counter() - t0
        assert n == RECORDS
    return RECORDS, dt

def big_table_pool_map():
    q = RECORDS // 4
    items = [[{"id": (k * q) + i, "name": "item%d" % ((k * q) + i),
               "vals": [(k * q) + i, 2 * ((k * q) + i), 3 * ((k * q) + i)]}
              for i in range(1, q + 1)] for k in range(4)]
    with mp.Pool(2) as pool:
        assert pool.map(len, [[1]] * 4, 1) == [1] * 4
        t0 = time.perf_counter(); r = pool.map(len, items, 1); dt = time.perf_counter() - t0
        assert r[3] == q
    return RECORDS, dt

if __name__ == "__main__":
    mp.set_start_method("fork")
    for name, f in [("big_string_mpqueue", big_string_mpqueue),
                    ("big_string_pipe", big_string_pipe),
                    ("big_string_pipe_bytes", big_string_pipe_bytes),
                    ("big_string_pool_result", big_string_pool_result),
                    ("big_table_mpqueue", big_table_mpqueue),
                    ("big_table_pool_result", big_table_pool_result),
                    ("big_table_pool_arg", big_table_pool_arg),
                    ("big_table_pool_map", big_table_pool_map)]:
        best = 0
        for _ in range(3):
            n, dt = f()
            best = max(best, n / dt)
        print("%-24s %.0f" % (name, best))
