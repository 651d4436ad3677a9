"""bench/py_threads.py: the Python baseline of the idle_footprint row.

  python3 bench/py_threads.py [threads]   (default 1000)

Starts 'threads' threading.Threads that each release a semaphore and block
in Event.wait; once all are blocked, prints the process's VmRSS growth per
thread ("idle_kb_per_thread <KB>"), then sets the event and joins them.
"""
import sys
import threading


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    ev = threading.Event()
    ready = threading.Semaphore(0)

    def body():
        ready.release()
        ev.wait()

    warm = threading.Thread(target=lambda: None)
    warm.start()
    warm.join()
    before = rss_kb()
    ts = [threading.Thread(target=body) for _ in range(n)]
    for t in ts:
        t.start()
    for _ in range(n):
        ready.acquire()
    after = rss_kb()
    ev.set()
    for t in ts:
        t.join()
    print("idle_kb_per_thread %.2f" % ((after - before) / n))


if __name__ == "__main__":
    main()
