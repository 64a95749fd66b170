#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny TCP round-robin load balancer for the multi-daemon tests.

roundrobin.py PORT...  listens on an ephemeral port of 127.0.0.1, prints
"PORT <n>" once listening, and hands each accepted connection to the next
of the backends 127.0.0.1:PORT in turn.  A backend that refuses the
connection is skipped for the next one (as a load balancer's failed check
would), so a killed daemon drops out of the rotation.  Bytes are copied
both ways untouched (HTTP keep-alive connections stay on one backend).  It
exits when its standard input is closed.
"""
import asyncio
import os
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def main(ports):
    turn = 0

    async def handle(client_reader, client_writer):
        nonlocal turn
        for _ in range(len(ports)):
            port = ports[turn % len(ports)]
            turn += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))
            writer.close()
            break
        client_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_stdin():
        if not os.read(sys.stdin.fileno(), 4096) and not done.done():
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    await done
    server.close()


if __name__ == "__main__":
    asyncio.run(main([int(p) for p in sys.argv[1:]]))
