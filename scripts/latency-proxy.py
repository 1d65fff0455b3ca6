#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every chunk by DELAY_MS in each direction (a
link of 2 x DELAY_MS round trip, as a far-away host is; the kernels we run on may have
no netem). Order is kept and chunks are not held behind each other: a chunk read at t
is written at t + DELAY_MS. With --log FILE it appends one line per connection when it
ends: the round trips the client waited for (times it sent and then received), and the
conversation as "C<bytes>@<ms>" / "S<bytes>@<ms>" (since the connection's first byte).

    latency-proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [--log FILE] [--ready FILE]
                     [--count N]

LISTEN_PORT 0 takes a free port; --count N listens on N ports (each of them 0: free
ones), as N far-away hosts would be N endpoints; --ready FILE gets the ports, one a line.

Used by scripts/bench.sh (the latency rows) and the round-trip test.
"""

import asyncio
import os
import socket
import sys
import time


def tune(writer):
    """No Nagle, and (Linux) every segment acknowledged at once: the proxy must not add
    the 40 ms delayed-ACK stalls a real client would not see."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return sock


def quick_ack(sock):
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


async def pipe(reader, read_sock, writer, delay, tag, talk, state):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            quick_ack(read_sock)
            now = time.monotonic()
            if state["t0"] is None:
                state["t0"] = now
            talk.append("%s%d@%d" % (tag, len(data), (now - state["t0"]) * 1000))
            # A round trip: the server answers after the client spoke.
            if tag == "C":
                state["waiting"] = True
            elif state["waiting"]:
                state["waiting"] = False
                state["turns"] += 1
            queue.put_nowait((now + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def serve(client_r, client_w, host, port, delay, log):
    talk, state = [], {"t0": None, "waiting": False, "turns": 0}
    try:
        server_r, server_w = await asyncio.open_connection(host, port)
    except OSError:
        client_w.close()
        return
    client_sock, server_sock = tune(client_w), tune(server_w)
    await asyncio.gather(
        pipe(client_r, client_sock, server_w, delay, "C", talk, state),
        pipe(server_r, server_sock, client_w, delay, "S", talk, state),
    )
    for w in (client_w, server_w):
        try:
            w.close()
        except OSError:
            pass
    if log:
        with open(log, "a") as f:
            f.write("turns=%d %s\n" % (state["turns"], " ".join(talk)))


async def main():
    args = sys.argv[1:]
    log = ready = None
    if "--log" in args:
        i = args.index("--log")
        log = args[i + 1]
        del args[i : i + 2]
    if "--ready" in args:
        i = args.index("--ready")
        ready = args[i + 1]
        del args[i : i + 2]
    count = 1
    if "--count" in args:
        i = args.index("--count")
        count = int(args[i + 1])
        del args[i : i + 2]
    listen, host, port, delay_ms = int(args[0]), args[1], int(args[2]), float(args[3])
    delay = delay_ms / 1000.0
    servers = []
    for _ in range(count):
        servers.append(
            await asyncio.start_server(
                lambda r, w: serve(r, w, host, port, delay, log),
                "127.0.0.1",
                listen if count == 1 else 0,
                backlog=256,
            )
        )
    if ready:
        # (written whole, then renamed: a reader never sees half the list)
        with open(ready + ".tmp", "w") as f:
            for server in servers:
                f.write("%d\n" % server.sockets[0].getsockname()[1])
        os.rename(ready + ".tmp", ready)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
