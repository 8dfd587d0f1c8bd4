"""Python RedPipe on the benchmark's Python shape: 100 sequential chunks of 10 SET + 10 GET
of a 16-byte value, one autoexec pipeline per chunk. Prints the median seconds per run.

Usage: python3 benches/python_shape.py PORT RUNS (needs `pip install redpipe redis`)."""

import sys
import time

import redis
import redpipe

port, runs = int(sys.argv[1]), int(sys.argv[2])
redpipe.connect_redis(redis.StrictRedis(host="127.0.0.1", port=port))
value = b"0123456789abcdef"
keys = [["py:%d:%d" % (c, i) for i in range(10)] for c in range(100)]


def chunk(chunk_keys):
    with redpipe.autoexec() as pipe:
        reads = []
        for key in chunk_keys:
            pipe.set(key, value)
            reads.append(pipe.get(key))
    return sum(len(r.result) for r in reads)


chunk(keys[0])
times = []
for _ in range(runs):
    start = time.perf_counter()
    for chunk_keys in keys:
        assert chunk(chunk_keys) == 160
    times.append(time.perf_counter() - start)
times.sort()
print(times[len(times) // 2])
