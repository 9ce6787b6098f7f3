#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Long-lived HTTP/1.1 keep-alive clients for the restart test: N connections, each sending a
request every INTERVAL seconds for DURATION seconds. Prints one JSON object: requests, failures,
resets (ECONNRESET or a connection closed under a request), reconnects, every request slower
than SLOW_MS as [wall-clock send time, milliseconds], so a caller can tell which restart a pause
belongs to, and every failure as [wall-clock time, connection index, kind] ("failed").
SIGTERM ends the run early, with the same output. Bounded: DURATION, a per-request timeout, and N connections.

usage: longlived.py HOST PORT N INTERVAL DURATION [SLOW_MS]
"""
import asyncio
import json
import signal
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
N, INTERVAL, DURATION = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
SLOW_MS = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
TIMEOUT = 5.0
REQUEST = b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n"

stats = {"connections": N, "requests": 0, "failures": 0, "resets": 0, "reconnects": 0,
         "max_ms": 0.0, "slow": [], "errors": {}, "failed": []}


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)


def note_error(kind, index=-1):
    stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
    if len(stats["failed"]) < 100000:
        stats["failed"].append([round(time.time(), 3), index, kind])


END = [0.0]  # when the clients stop; SIGTERM brings it forward


async def client(index):
    await asyncio.sleep(INTERVAL * index / N)  # spread the connections over one interval
    reader = writer = None
    while time.time() < END[0]:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, PORT), TIMEOUT)
            except (OSError, asyncio.TimeoutError) as e:
                stats["failures"] += 1
                note_error("connect: " + type(e).__name__, index)
                await asyncio.sleep(INTERVAL)
                continue
        sent = time.time()
        try:
            writer.write(REQUEST)
            await asyncio.wait_for(read_response(reader), TIMEOUT)
            stats["requests"] += 1
            ms = (time.time() - sent) * 1000.0
            stats["max_ms"] = max(stats["max_ms"], ms)
            if ms >= SLOW_MS:
                stats["slow"].append([round(sent, 4), round(ms, 1)])
        except (ConnectionResetError, asyncio.IncompleteReadError) as e:
            stats["failures"] += 1
            stats["resets"] += 1
            note_error(type(e).__name__, index)
            writer = None
            stats["reconnects"] += 1
        except (OSError, asyncio.TimeoutError, asyncio.LimitOverrunError) as e:
            stats["failures"] += 1
            note_error(type(e).__name__, index)
            writer = None
            stats["reconnects"] += 1
        await asyncio.sleep(max(0.0, INTERVAL - (time.time() - sent)))
    if writer is not None:
        writer.close()


async def main():
    END[0] = time.time() + DURATION
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: END.__setitem__(0, 0.0))
    await asyncio.gather(*(client(i) for i in range(N)))


asyncio.run(main())
print(json.dumps(stats))
