#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that holds every chunk for DELAY_MS before passing it on, each
way: a network between the milter and its database host, where netem (the kernel's way)
is not available. A round trip through it costs at least twice DELAY_MS; the bench prints
what it measured. Order is kept: chunks of one direction leave in the order they came.

Usage: delay_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            # call_later keeps the order of equal delays: the chunks leave as they came.
            loop.call_later(delay, writer.write, data)
    finally:
        loop.call_later(delay, writer.close)


async def main():
    listen_port, host, port, delay_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    delay = delay_ms / 1000.0

    async def serve(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, server_w, delay), pipe(server_r, client_w, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(serve, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
