#!/usr/bin/env python3
"""pagefetch at scale (called by bench/run.sh): peak RSS and req/s of `fetch` per output format at
100,000 and 1,000,000 inputs (10,000,000 with `scale10m`), what the reorder window holds, and
shards merged back into one stream. Results go to bench/out/scale.json, which bench.py reads when
it writes BENCHMARKS.md.

Every run fetches from one `pagefetch serve` on loopback (0 ms latency, c=256), its stdout to
/dev/null or a file; exit code 0 means every page arrived. Peak RSS and CPU from /usr/bin/time.
"""
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import OUT, PAGEFETCH, clean_env, start_server, timed  # noqa: E402

FORMATS = ["ndjson", "csv", "json", "table"]
C = 256


def write_terms(path, n):
    if os.path.exists(path) and sum(1 for _ in open(path)) == n:
        return
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"t{i}\n")


def fetch_cmd(template, terms, fmt, extra=()):
    return [PAGEFETCH, "fetch", "-q", "--format", fmt, "-c", str(C), "-t", template, "-f", terms, *extra]


def per_format(n, runs, template, formats):
    d = os.path.join(OUT, "scale")
    os.makedirs(d, exist_ok=True)
    terms = os.path.join(d, f"terms-{n}.txt")
    write_terms(terms, n)
    rows = {}
    for fmt in formats:
        ms = []
        for r in range(runs):
            m = timed(fetch_cmd(template, terms, fmt), os.devnull, os.path.join(d, "err.txt"))
            if m["code"] != 0:
                sys.exit(f"scale: {fmt} at {n:,} exited {m['code']}")
            ms.append(m)
            print(f"  {n:,} {fmt} run {r + 1}/{runs}: {m['wall']:.2f} s, {m['rss_mib']:.1f} MiB", file=sys.stderr)
        rows[fmt] = {
            "wall": statistics.median(m["wall"] for m in ms),
            "rps": n / statistics.median(m["wall"] for m in ms),
            "rss_mib": statistics.median(m["rss_mib"] for m in ms),
            "rss_all": [m["rss_mib"] for m in ms],
            "cpu": statistics.median(m["cpu"] for m in ms),
        }
    return rows


def window(addr, template, runs):
    """Peak RSS with page 0 stalled (the server answers it after 8 s) while 100,000 fast pages
    follow: the loops fill the reorder window (65,536 pages) and wait; against the same run
    without the stall. Runs alternate, medians of each side; peak RSS of one run moves by a few
    MiB (the allocator), so one pair alone says little."""
    d = os.path.join(OUT, "scale")
    os.makedirs(d, exist_ok=True)
    terms = os.path.join(d, "window.txt")
    with open(terms, "w") as f:
        f.write(f"http://{addr}/search?q=stall&ms=8000\n")
        for i in range(1, 100_000):
            f.write(f"t{i}\n")
    plain_terms = os.path.join(d, "terms-100000.txt")
    write_terms(plain_terms, 100_000)
    stalled, plain = [], []
    for r in range(runs):
        s = timed(fetch_cmd(template, terms, "ndjson"), os.devnull, os.path.join(d, "err.txt"))
        p = timed(fetch_cmd(template, plain_terms, "ndjson"), os.devnull, os.path.join(d, "err.txt"))
        stalled.append(s["rss_mib"])
        plain.append(p["rss_mib"])
        print(f"  window run {r + 1}/{runs}: stalled {s['rss_mib']:.1f} MiB, plain {p['rss_mib']:.1f} MiB",
              file=sys.stderr)
    held = statistics.median(stalled) - statistics.median(plain)
    return {
        "runs": runs,
        "stalled_rss_mib": statistics.median(stalled),
        "plain_rss_mib": statistics.median(plain),
        "stalled_all": stalled,
        "plain_all": plain,
        "held_mib": held,
        "per_record_bytes": held * 1024 * 1024 / 65_536,
    }


def page_digest(path, key=lambda line: line):
    """sha256 of the page lines of an NDJSON file, in order, and their count."""
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"page"'):
                h.update(key(line))
                n += 1
    return h.hexdigest(), n


def essence(line):
    v = json.loads(line)
    return json.dumps([v["index"], v["input"], v["url"], v["status"], v["bytes"], v["error_kind"]]).encode()


def shard_merge(n, shards, template):
    """n inputs in `shards` shards side by side (each with c=256/shards), then `pagefetch merge`;
    the merged pages against an unsharded run's, field by field (index, input, url, status, bytes,
    error_kind)."""
    d = os.path.join(OUT, "scale")
    terms = os.path.join(d, f"terms-{n}.txt")
    write_terms(terms, n)
    whole = os.path.join(d, "whole.ndjson")
    with open(whole, "wb") as out:
        subprocess.run(fetch_cmd(template, terms, "ndjson"), stdout=out, check=True, env=clean_env())
    paths = [os.path.join(d, f"shard-{k}.ndjson") for k in range(shards)]
    start = time.perf_counter()
    procs = []
    for k, p in enumerate(paths):
        cmd = [PAGEFETCH, "fetch", "-q", "--format", "ndjson", "-c", str(C // shards), "--shard",
               f"{k}/{shards}", "-t", template, "-f", terms]
        procs.append(subprocess.Popen(cmd, stdout=open(p, "wb"), env=clean_env()))
    for proc in procs:
        if proc.wait() != 0:
            sys.exit("scale: a shard failed")
    shards_wall = time.perf_counter() - start
    merged = os.path.join(d, "merged.ndjson")
    m = timed([PAGEFETCH, "merge", *paths], merged, os.path.join(d, "merge.err"))
    if m["code"] != 0:
        sys.exit("scale: merge failed: " + open(os.path.join(d, "merge.err")).read())
    same = page_digest(merged, essence) == page_digest(whole, essence)
    return {"n": n, "shards": shards, "shards_wall": shards_wall, "merge_wall": m["wall"],
            "merge_rss_mib": m["rss_mib"], "equal": same}


def merge10m(template):
    """The 10,000,000-page NDJSON of the big10m ndjson run split into 8 files by index mod 8,
    merged back: time, memory, and the merged page lines byte-identical to the original's."""
    d = os.path.join(OUT, "scale")
    terms = os.path.join(d, "terms-10000000.txt")
    whole = os.path.join(d, "whole10m.ndjson")
    with open(whole, "wb") as out:
        subprocess.run(fetch_cmd(template, terms, "ndjson"), stdout=out, check=True, env=clean_env())
    paths = [os.path.join(d, f"part-{k}.ndjson") for k in range(8)]
    files = [open(p, "wb") for p in paths]
    with open(whole, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"page"'):
                index = int(line.split(b'"index":', 1)[1].split(b",", 1)[0])
                files[index % 8].write(line)
    for f in files:
        f.close()
    merged = os.path.join(d, "merged10m.ndjson")
    m = timed([PAGEFETCH, "merge", *paths], merged, os.path.join(d, "merge.err"))
    if m["code"] != 0:
        sys.exit("scale: merge failed")
    same = page_digest(merged) == page_digest(whole)
    for p in paths + [merged, whole]:
        os.remove(p)
    return {"records": 10_000_000, "files": 8, "wall": m["wall"], "rss_mib": m["rss_mib"], "equal": same}


def main():
    runs = int(os.environ.get("BENCH_RUNS", 3))
    long_run = "scale10m" in sys.argv[1:]
    server, addr = start_server(0)
    template = f"http://{addr}/search?q={{}}"
    if "window" in sys.argv[1:]:
        # Only the reorder window, into the saved results.
        path = os.path.join(OUT, "scale.json")
        try:
            result = json.load(open(path))
            print("scale: the reorder window", file=sys.stderr)
            result["window"] = window(addr, template, runs)
        finally:
            server.terminate()
            server.wait()
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print("scale: updated the window in bench/out/scale.json", file=sys.stderr)
        return
    try:
        result = {"runs": runs, "c": C}
        print("scale: 100,000 and 1,000,000 inputs per format", file=sys.stderr)
        result["sizes"] = {str(n): per_format(n, runs, template, FORMATS) for n in (100_000, 1_000_000)}
        print("scale: the reorder window", file=sys.stderr)
        result["window"] = window(addr, template, runs)
        print("scale: 4 shards of 1,000,000 and merge", file=sys.stderr)
        result["shard_merge"] = shard_merge(1_000_000, 4, template)
        if long_run:
            print("scale: 10,000,000 inputs per format (one run each) and an 8-file merge", file=sys.stderr)
            result["sizes"]["10000000"] = per_format(10_000_000, 1, template, FORMATS)
            result["merge10m"] = merge10m(template)
        else:
            old = os.path.join(OUT, "scale.json")
            if os.path.exists(old):
                prev = json.load(open(old))
                if "10000000" in prev.get("sizes", {}):
                    result["sizes"]["10000000"] = prev["sizes"]["10000000"]
                    result["merge10m"] = prev.get("merge10m")
                    result["long_measured_at"] = prev.get("long_measured_at")
        if long_run:
            result["long_measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    finally:
        server.terminate()
        server.wait()
    with open(os.path.join(OUT, "scale.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("scale: wrote bench/out/scale.json", file=sys.stderr)


if __name__ == "__main__":
    main()
