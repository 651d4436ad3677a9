"""The task of bench/py_share.py, importable by Pool workers."""


def f(vec, i):
    return vec[i % len(vec)] * i
