#!/usr/bin/env python3
"""The Python asyncio lesson pagefetch grew out of, as it is taught: blocking urlopen calls run in
the default executor with run_in_executor(None, ...) and awaited together with asyncio.gather.
Stdlib only. Reads URLs (one a line) from the file given as argv[1]; prints each page's length in
input order, one a line."""
import asyncio
import sys
import urllib.request


def fetch(url):
    with urllib.request.urlopen(url) as resp:
        return len(resp.read())


async def main(urls):
    loop = asyncio.get_running_loop()
    futures = [loop.run_in_executor(None, fetch, url) for url in urls]
    return await asyncio.gather(*futures)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        urls = [line.strip() for line in f if line.strip()]
    sizes = asyncio.run(main(urls))
    sys.stdout.write("".join(f"{n}\n" for n in sizes))
