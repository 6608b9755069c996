#!/usr/bin/env python3
"""aiohttp peer: one ClientSession, at most C requests in flight (a semaphore and a connector limit
of C). Usage: aio.py URLS_FILE C. Prints each page's length in input order, one a line."""
import asyncio
import sys

import aiohttp


async def fetch(session, sem, url):
    async with sem:
        async with session.get(url) as resp:
            n = 0
            async for chunk in resp.content.iter_chunked(64 * 1024):
                n += len(chunk)
            return n


async def main(urls, c):
    sem = asyncio.Semaphore(c)
    connector = aiohttp.TCPConnector(limit=c)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        return await asyncio.gather(*(fetch(session, sem, u) for u in urls))


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        urls = [line.strip() for line in f if line.strip()]
    sizes = asyncio.run(main(urls, int(sys.argv[2])))
    sys.stdout.write("".join(f"{n}\n" for n in sizes))
