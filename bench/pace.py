#!/usr/bin/env python3
"""Pacing accuracy (called by bench/run.sh): `pagefetch fetch --rate 500` over 2,000 pages, beside
`oha -q 500` for 2,000 requests, each against its own `pagefetch serve --log-arrivals`, which
records when each request arrived. From those times: the achieved rate, (n - 1) / (last - first),
and the spread of the requests counted in each 100 ms (10 bins a second; 50 each at 500/s).
Results go to bench/out/pace.json, which bench.py reads when it writes BENCHMARKS.md.
"""
import json
import os
import signal
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import OHA, OUT, PAGEFETCH, clean_env  # noqa: E402

RATE = 500
PAGES = 2000
RUNS = int(os.environ.get("BENCH_RUNS", 3))


def serve(log):
    proc = subprocess.Popen(
        [PAGEFETCH, "serve", "--addr", "127.0.0.1:0", "--log-arrivals", log],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    return proc, proc.stdout.readline().decode().strip()


def measure(tool, addr):
    if tool == "pagefetch":
        terms = os.path.join(OUT, "pace-terms.txt")
        with open(terms, "w") as f:
            f.write("".join(f"p{i}\n" for i in range(PAGES)))
        cmd = [PAGEFETCH, "fetch", "-q", "--format", "csv", "-c", "64", "--rate", str(RATE),
               "-t", f"http://{addr}/search?q={{}}&bytes=100", "-f", terms]
    else:
        cmd = [OHA, "-n", str(PAGES), "-c", "64", "-q", str(RATE), "--no-tui",
               f"http://{addr}/search?q=p&bytes=100"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=clean_env())
    return " ".join(cmd)


def analyse(log):
    with open(log) as f:
        t = sorted(int(x) / 1e6 for x in f if x.strip())
    rate = (len(t) - 1) / (t[-1] - t[0])
    bins = [0] * (int((t[-1] - t[0]) / 0.1) + 1)
    for x in t:
        bins[int((x - t[0]) / 0.1)] += 1
    full = bins[:-1]  # the last bin is cut short by the end of the run
    return {
        "requests": len(t),
        "rate": rate,
        "bin_stdev": statistics.pstdev(full),
        "bin_min": min(full),
        "bin_max": max(full),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"rate": RATE, "pages": PAGES, "runs": RUNS, "tools": {}, "commands": {}}
    for tool in ("pagefetch", "oha"):
        samples = []
        for _ in range(RUNS):
            log = os.path.join(OUT, f"arrivals-{tool}.txt")
            proc, addr = serve(log)
            try:
                result["commands"][tool] = measure(tool, addr)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
            samples.append(analyse(log))
            print(f"  pace {tool}: {samples[-1]}", file=sys.stderr)
        result["tools"][tool] = {
            k: statistics.median(s[k] for s in samples) for k in samples[0]
        }
    with open(os.path.join(OUT, "pace.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("pace: wrote bench/out/pace.json", file=sys.stderr)


if __name__ == "__main__":
    main()
