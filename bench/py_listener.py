"""Python baselines for bench/listener_bench.lua: the same Listener/Client
workloads over TCP on 127.0.0.1 with an authkey, the peer a forked process.
Prints 'stream <MB/s> MB/s' and 'pingpong <us> us'."""
import multiprocessing as mp, time
from multiprocessing.connection import Listener, Client

KEY = b'bench key'

def streamer(addr, n, size):
    c = Client(addr, authkey=KEY)
    buf = b'x' * size
    for _ in range(n): c.send_bytes(buf)
    c.recv_bytes()
    c.close()

def echo(addr, n):
    c = Client(addr, authkey=KEY)
    for _ in range(n): c.send_bytes(c.recv_bytes())
    c.close()

def with_peer(target, *args):
    l = Listener(('127.0.0.1', 0), authkey=KEY)
    p = mp.Process(target=target, args=(l.address,) + args); p.start()
    return l, l.accept(), p

def stream(n=20000, size=65536):
    l, c, p = with_peer(streamer, n, size)
    t0 = time.perf_counter(); total = 0
    for _ in range(n): total += len(c.recv_bytes())
    dt = time.perf_counter() - t0
    c.send_bytes(b'done'); c.close(); p.join(); l.close()
    return total / 1e6, dt

def pingpong(n=20000):
    l, c, p = with_peer(echo, n)
    t0 = time.perf_counter()
    for _ in range(n):
        c.send_bytes(b'p'); c.recv_bytes()
    dt = time.perf_counter() - t0
    c.close(); p.join(); l.close()
    return n, dt

if __name__ == "__main__":
    import sys
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3  # bench/run.lua: 1 a turn
    mp.set_start_method("fork")
    best_s = max(mb / dt for mb, dt in (stream() for _ in range(reps)))
    print("stream %.1f MB/s" % best_s, flush=True)
    best_p = min(dt / n * 1e6 for n, dt in (pingpong() for _ in range(reps)))
    print("pingpong %.2f us" % best_p, flush=True)
