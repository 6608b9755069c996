#!/usr/bin/env python3
"""pagefetch benchmark driver (called by bench/run.sh, which installs the peers first).

For each scenario: start one `pagefetch serve` on 127.0.0.1:0 with the scenario's latency, run every
tool against it (one warm-up round, then RUNS measured rounds, tools interleaved within a round so
machine noise hits all of them alike), check that each tool got every page with the right size,
and write the medians to BENCHMARKS.md.

Each process is timed from outside with a blocking os.wait4 (wall from perf_counter around spawn and
reap; user+sys CPU and peak RSS from the rusage wait4 returns, children included).
"""
import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, "out")
PAGEFETCH = os.path.join(ROOT, "target", "release", "pagefetch")
OHA = os.path.join(BENCH, ".tools", "bin", "oha")
VENV_PY = os.path.join(BENCH, ".venv", "bin", "python")
FLOOR = os.path.join(BENCH, "floor", "target", "release", "floor")
LESSON = ["apple", "pear", "grape", "pineapple", "orange", "strawberry"]

# name: (pages, latency ms, concurrency)
SCENARIOS = {
    "seed6": (6, 300, 6),
    "fanout1k": (1000, 50, 100),
    "wide10k": (10000, 100, 1000),
    "burst10k": (10000, 0, 64),
    "big100k": (100000, 0, 256),
    "tls5k": (5000, 0, 64),
}
# Scenarios served over HTTPS by `pagefetch serve --tls` (its CA written to bench/out/ca.pem).
TLS = {"tls5k"}
# The tools of an HTTPS scenario (the others are plain-HTTP peers or reference loops).
TLS_TOOLS = {"pagefetch joinset", "pagefetch joinset --http1.1", "oha --insecure", "oha --insecure --http2", "curl -Z"}
# Tools left out of a scenario, and why (said in BENCHMARKS.md).
SKIP = {
    ("pagefetch sequential", "fanout1k"): "1,000 x 50 ms = 50 s a run; sequential is measured where it is the point",
    ("pagefetch sequential", "wide10k"): "10,000 x 100 ms = 1,000 s a run",
    ("curl (sequential)", "fanout1k"): "as for pagefetch sequential",
    ("curl (sequential)", "wide10k"): "as for pagefetch sequential",
    ("Python lesson", "wide10k"): "6 executor threads x 100 ms: about 170 s a run",
    ("xargs -P curl", "wide10k"): "1,000 curl processes at once",
    ("xargs -P curl", "big100k"): "100,000 curl processes",
}
# The floor loops are reference points for the throughput scenarios only.
for _sc in ("seed6", "fanout1k", "wide10k"):
    SKIP[("floor: reqwest loop", _sc)] = "reference point for the throughput scenarios only"
    SKIP[("floor: hyper loop", _sc)] = "reference point for the throughput scenarios only"
for _sc in SCENARIOS:
    if _sc not in TLS:
        for _tool in ("pagefetch joinset --http1.1", "oha --insecure", "oha --insecure --http2"):
            SKIP[(_tool, _sc)] = "an HTTPS scenario's tool"


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def page_bytes(term):
    """Mirror of pagefetch::server::page_bytes: the size the server sends for a term."""
    return 10_000 + fnv1a(term) % 50_000


def clean_env():
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "*"
    return env


def timed(cmd, out_path, err_path):
    """Runs cmd under /usr/bin/time. Wall: perf_counter around a blocking wait4 (the wrapper adds the
    same ~1 ms to every tool). CPU and peak RSS: from /usr/bin/time, because a process forked from
    this Python keeps Python's resident-set high-water mark across exec, while one forked from the
    small `time` process does not."""
    rusage_path = out_path + ".time"
    wrapped = ["/usr/bin/time", "-q", "-f", "%U %S %M", "-o", rusage_path] + cmd
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=clean_env())
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    with open(rusage_path) as f:
        user, sys_, rss_kib = f.read().split()[-3:]
    return {
        "wall": wall,
        "cpu": float(user) + float(sys_),
        "rss_mib": int(rss_kib) / 1024,
        "code": proc.returncode,
    }


# --- checkers: None when every page arrived with the right size, else what was wrong ---------------


def check_in_order(sizes_text, expected):
    got = [int(x) for x in sizes_text.split()]
    if len(got) != len(expected):
        return f"{len(got)} pages, expected {len(expected)}"
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    return f"{len(bad)} wrong sizes, first at {bad[0]}" if bad else None


def check_pagefetch_csv(text, expected):
    lines = text.splitlines()[1:]
    if len(lines) != len(expected):
        return f"{len(lines)} rows, expected {len(expected)}"
    for i, line in enumerate(lines):
        # mode,index,input,url,status,bytes,...; terms here contain no commas or quotes
        f = line.split(",")
        if int(f[1]) != i or f[4] != "200" or int(f[5]) != expected[i]:
            return f"row {i} wrong: {line}"
    return None


def check_url_sizes(text, urls, expected):
    want = dict(zip(urls, expected))
    got = {}
    for line in text.splitlines():
        url, _, size = line.rpartition(" ")
        got[url] = int(size)
    if len(got) != len(want):
        return f"{len(got)} pages, expected {len(want)}"
    bad = [u for u in want if got.get(u) != want[u]]
    return f"{len(bad)} wrong sizes, e.g. {bad[0]}" if bad else None


def check_total(text, expected):
    try:
        pages, total = (int(x) for x in text.split())
    except ValueError:
        return f"unexpected output {text[:80]!r}"
    if (pages, total) != (len(expected), sum(expected)):
        return f"{pages} pages / {total} bytes, expected {len(expected)} / {sum(expected)}"
    return None


def check_oha(text, n, expected):
    """oha picks each request's URL at random from the list, so its byte total can only be bounded:
    every answer a 200, and n pages' worth of the list's smallest to largest page."""
    try:
        doc = json.loads(text)
    except ValueError:
        return "no JSON from oha"
    codes = doc.get("statusCodeDistribution", {})
    if codes.get("200") != n:
        return f"status codes {codes}, expected {n} x 200"
    total = doc.get("summary", {}).get("totalData")
    if total is not None and not n * min(expected) <= total <= n * max(expected):
        return f"totalData {total}, expected {n * min(expected)} to {n * max(expected)}"
    return None


# --- tools ----------------------------------------------------------------------------------------


def tools_for(files, n, c):
    urls, expected = files["urls"], files["expected"]
    wfmt = "%{url_effective} %{size_download}\\n"
    pf = [PAGEFETCH, "fetch", "-q", "--format", "csv", "-c", str(c), "-t", files["template"], "-f", files["terms"]]
    # oha fetches the same list (a URL drawn at random from it for each request), not one URL n
    # times: the same pages, sizes and URL handling as every other tool. One URL repeated was 5%
    # fewer bytes on big100k and about 20% faster for oha (measured on 2026-11-26).
    oha_list = ["--urls-from-file", files["urls_file"]]
    if files.get("cacert"):
        pf += ["--cacert", files["cacert"]]
        oha = [OHA, "-n", str(n), "-c", str(c), "--no-tui", "--output-format", "json", "--insecure"]
        return [
            ("pagefetch joinset", pf + ["-m", "joinset"], lambda t: check_pagefetch_csv(t, expected)),
            ("pagefetch joinset --http1.1", pf + ["-m", "joinset", "--http1.1"], lambda t: check_pagefetch_csv(t, expected)),
            (
                "curl -Z",
                ["curl", "-s", "-Z", "--parallel-max", str(c), "--cacert", files["cacert"], "-K", files["curl_config"], "-w", wfmt],
                lambda t: check_url_sizes(t, urls, expected),
            ),
            ("oha --insecure", oha + oha_list, lambda t: check_oha(t, n, expected)),
            ("oha --insecure --http2", oha + ["--http2"] + oha_list, lambda t: check_oha(t, n, expected)),
        ]
    return [
        ("pagefetch joinset", pf + ["-m", "joinset"], lambda t: check_pagefetch_csv(t, expected)),
        ("pagefetch join-all", pf + ["-m", "join-all"], lambda t: check_pagefetch_csv(t, expected)),
        ("pagefetch sequential", pf + ["-m", "sequential"], lambda t: check_pagefetch_csv(t, expected)),
        (
            "curl -Z",
            ["curl", "-s", "-Z", "--parallel-max", str(c), "-K", files["curl_config"], "-w", wfmt],
            lambda t: check_url_sizes(t, urls, expected),
        ),
        (
            "curl (sequential)",
            ["curl", "-s", "-K", files["curl_config"], "-w", wfmt],
            lambda t: check_url_sizes(t, urls, expected),
        ),
        (
            "xargs -P curl",
            ["sh", "-c", f"xargs -P {c} -n 1 curl -s -o /dev/null -w '{wfmt}' < {files['urls_file']}"],
            lambda t: check_url_sizes(t, urls, expected),
        ),
        (
            "Python lesson",
            [sys.executable, os.path.join(BENCH, "peers", "lesson.py"), files["urls_file"]],
            lambda t: check_in_order(t, expected),
        ),
        (
            "aiohttp",
            [VENV_PY, os.path.join(BENCH, "peers", "aio.py"), files["urls_file"], str(c)],
            lambda t: check_in_order(t, expected),
        ),
        (
            "floor: reqwest loop",
            [FLOOR, "reqwest", urls[0][: -len("t0")], str(n), str(c)],
            lambda t: check_total(t, expected),
        ),
        (
            "floor: hyper loop",
            [FLOOR, "hyper", urls[0][: -len("t0")], str(n), str(c)],
            lambda t: check_total(t, expected),
        ),
        (
            "oha",
            [OHA, "-n", str(n), "-c", str(c), "--no-tui", "--output-format", "json"] + oha_list,
            lambda t: check_oha(t, n, expected),
        ),
    ]


def write_inputs(name, n, addr):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    terms = LESSON if name == "seed6" else [f"t{i}" for i in range(n)]
    # HTTPS: by name, so the certificate (made for localhost) is checked as on the real web.
    origin = f"https://localhost:{addr.rsplit(':', 1)[1]}" if name in TLS else f"http://{addr}"
    urls = [f"{origin}/search?q={t}" for t in terms]
    files = {
        "dir": d,
        "terms": os.path.join(d, "terms.txt"),
        "urls_file": os.path.join(d, "urls.txt"),
        "curl_config": os.path.join(d, "curl.cfg"),
        "template": f"{origin}/search?q={{}}",
        "urls": urls,
        "expected": [page_bytes(t) for t in terms],
        "cacert": CA_PEM if name in TLS else None,
    }
    with open(files["terms"], "w") as f:
        f.write("".join(t + "\n" for t in terms))
    with open(files["urls_file"], "w") as f:
        f.write("".join(u + "\n" for u in urls))
    with open(files["curl_config"], "w") as f:
        f.write("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    return files


CA_PEM = os.path.join(OUT, "ca.pem")


def start_server(latency_ms, tls=False):
    extra = ["--tls", "--ca-out", CA_PEM] if tls else []
    proc = subprocess.Popen(
        [PAGEFETCH, "serve", "--addr", "127.0.0.1:0", "--latency", f"{latency_ms}ms"] + extra,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    addr = proc.stdout.readline().decode().strip()
    if not addr:
        sys.exit("bench: pagefetch serve did not print its address")
    return proc, addr


def run_scenario(name, runs):
    n, latency, c = SCENARIOS[name]
    server, addr = start_server(latency, tls=name in TLS)
    try:
        files = write_inputs(name, n, addr)
        tools = [t for t in tools_for(files, n, c) if (t[0], name) not in SKIP]
        if name in TLS:
            tools = [t for t in tools if t[0] in TLS_TOOLS]
        samples = {t[0]: [] for t in tools}
        failures = {}
        for rnd in range(runs + 1):
            for tool, cmd, check in tools:
                if tool in failures:
                    continue
                out = os.path.join(files["dir"], f"{tool.replace(' ', '_')}.out")
                m = timed(cmd, out, out + ".err")
                with open(out, errors="replace") as f:
                    problem = check(f.read()) if m["code"] == 0 else f"exit code {m['code']}"
                if problem:
                    failures[tool] = problem
                    print(f"  {name} {tool}: INVALID ({problem})", file=sys.stderr)
                    continue
                if rnd > 0:
                    samples[tool].append(m)
                    print(f"  {name} run {rnd}/{runs} {tool}: {m['wall']:.3f} s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    ideal = math.ceil(n / c) * latency / 1000 if latency else None
    rows = {}
    for tool, ms in samples.items():
        if not ms:
            continue
        wall = statistics.median(m["wall"] for m in ms)
        seq = "sequential" in tool
        rows[tool] = {
            "wall": wall,
            "walls": [m["wall"] for m in ms],
            "ideal": (n * latency / 1000 if seq else ideal) if latency else None,
            "rps": n / wall,
            "cpu": statistics.median(m["cpu"] for m in ms),
            "rss_mib": statistics.median(m["rss_mib"] for m in ms),
        }
    return {
        "name": name,
        "pages": n,
        "latency_ms": latency,
        "concurrency": c,
        "rows": rows,
        "failures": failures,
        "skipped": {
            t: why for (t, s), why in SKIP.items() if s == name and why != "an HTTPS scenario's tool"
        },
        "commands": {tool: " ".join(cmd) for tool, cmd, _ in tools},
    }


def spawn_wall(cmd):
    """Wall time of one run, spawned directly (no /usr/bin/time in between)."""
    with open(os.devnull, "wb") as null:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, stdin=subprocess.DEVNULL)
        os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = 0
    return wall


def tls_cold(runs=20):
    """One HTTPS page in a new process, pagefetch against curl, alternately (as hyperfine would
    time each): medians. Then a sequential run against a server that closes every connection, so
    each page makes its own handshake: page 0 against the median of pages 1-9, per run."""
    server, addr = start_server(0, tls=True)
    try:
        url = f"https://localhost:{addr.rsplit(':', 1)[1]}/search?q=cold"
        pf_cmd = [PAGEFETCH, "fetch", "-q", "--format", "csv", "--cacert", CA_PEM, url]
        curl_cmd = ["curl", "-s", "-o", "/dev/null", "--cacert", CA_PEM, url]
        spawn_wall(pf_cmd), spawn_wall(curl_cmd)  # warm-up
        pf, curl = [], []
        for _ in range(runs):
            pf.append(spawn_wall(pf_cmd))
            curl.append(spawn_wall(curl_cmd))
        close_urls = [f"{url}{i}&close=1" for i in range(10)]
        firsts = []
        for _ in range(5):
            out = subprocess.run(
                [PAGEFETCH, "fetch", "-q", "--format", "json", "-m", "sequential", "--http1.1", "--cacert", CA_PEM]
                + close_urls,
                capture_output=True,
                text=True,
                env=clean_env(),
            )
            doc = json.loads(out.stdout)
            times = [p["elapsed_ms"] for p in doc["pages"]]
            assert doc["connections"] == 10, doc["connections"]
            firsts.append((times[0], statistics.median(times[1:])))
    finally:
        server.terminate()
        server.wait()
    return {
        "pagefetch": statistics.median(pf),
        "curl": statistics.median(curl),
        "runs": runs,
        "page0": firsts,
        "commands": {"pagefetch": " ".join(pf_cmd), "curl": " ".join(curl_cmd)},
    }


def startup(runs=100):
    """Median wall of `pagefetch --version`, and of /bin/true as the floor of spawning a process from
    this Python, measured alternately."""
    pf, floor = [], []
    for _ in range(runs):
        pf.append(spawn_wall([PAGEFETCH, "--version"]))
        floor.append(spawn_wall(["/bin/true"]))
    return statistics.median(pf), statistics.median(floor)


# --- report ---------------------------------------------------------------------------------------


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def machine():
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), {mem_kib / 1024 / 1024:.0f} GiB memory, Linux {platform.release()}"


def versions():
    return {
        "pagefetch": first_line([PAGEFETCH, "--version"]),
        "oha": first_line([OHA, "--version"]),
        "curl": first_line(["curl", "--version"]),
        "python": first_line([sys.executable, "--version"]),
        "aiohttp": first_line([VENV_PY, "-c", "import aiohttp; print('aiohttp', aiohttp.__version__)"]),
    }


def fmt_s(x):
    return f"{x:.3f} s"


def table(sc):
    base = sc["rows"].get("pagefetch joinset")
    lines = [
        "| tool | wall (median) | ideal | wall/ideal | req/s | CPU s | peak RSS MiB | wall / pagefetch joinset |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tool, r in sorted(sc["rows"].items(), key=lambda kv: kv[1]["wall"]):
        ideal = fmt_s(r["ideal"]) if r["ideal"] else "—"
        ratio = f"{r['wall'] / r['ideal']:.3f}x" if r["ideal"] else "—"
        vs = f"{r['wall'] / base['wall']:.2f}" if base else "—"
        lines.append(
            f"| {tool} | {fmt_s(r['wall'])} | {ideal} | {ratio} | {r['rps']:,.0f} | {r['cpu']:.2f} | "
            f"{r['rss_mib']:.1f} | {vs} |"
        )
    return "\n".join(lines)


def load_scale():
    path = os.path.join(OUT, "scale.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_json(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def pace_targets(pace):
    pf, oha = pace["tools"]["pagefetch"], pace["tools"].get("oha")
    target = pace["rate"]
    err = abs(pf["rate"] - target) / target
    out = [(f"pacing: --rate {target} achieved within 1%", f"{pf['rate']:.1f}/s ({err * 100:.2f}% off)", err <= 0.01)]
    if oha:
        out.append(
            (
                f"pacing: requests per 100 ms steadier than oha -q {target}",
                f"stdev {pf['bin_stdev']:.2f} vs {oha['bin_stdev']:.2f} (expected {target // 10} a bin)",
                pf["bin_stdev"] < oha["bin_stdev"],
            )
        )
    return out


def pace_section(pace):
    rows = [
        "",
        f"## Pacing: {pace['pages']:,} requests at {pace['rate']}/s",
        "",
        f"Measured by `bench/pace.py` (medians of {pace['runs']} runs): each tool against its own "
        "`pagefetch serve --log-arrivals`, which records when each request arrived. Rate: (n - 1) / "
        "(last arrival - first); bins: requests arriving in each 100 ms (the last, cut short, left out).",
        "",
        "| tool | achieved rate | requests per 100 ms: stdev | min | max |",
        "|---|---|---|---|---|",
    ]
    for tool, r in pace["tools"].items():
        rows.append(f"| {tool} | {r['rate']:.1f}/s | {r['bin_stdev']:.2f} | {r['bin_min']:.0f} | {r['bin_max']:.0f} |")
    rows += ["", "```"] + [pace["commands"][t] for t in pace["tools"]] + ["```"]
    return rows


def scale_targets(scale):
    out = []
    sizes = scale.get("sizes", {})
    for small, big in (("100000", "1000000"), ("1000000", "10000000")):
        if small not in sizes or big not in sizes:
            continue
        for fmt, row in sizes[big].items():
            base = sizes[small][fmt]["rss_mib"]
            x = row["rss_mib"] / base
            out.append(
                (
                    f"flat memory: {fmt} peak RSS at {int(big):,} inputs within 10% of {int(small):,}",
                    f"{row['rss_mib']:.1f} MiB vs {base:.1f} MiB ({x:.3f}x)",
                    x <= 1.10,
                )
            )
    sm = scale.get("shard_merge")
    if sm:
        out.append(
            (
                f"{sm['shards']} shards of {sm['n']:,} merged equal the unsharded run",
                f"shards {sm['shards_wall']:.1f} s side by side + merge {sm['merge_wall']:.1f} s",
                sm["equal"],
            )
        )
    m = scale.get("merge10m")
    if m:
        out.append(
            (
                "10,000,000 records merged from 8 files, byte-identical to the original",
                f"{m['wall']:.1f} s, peak RSS {m['rss_mib']:.1f} MiB",
                m["equal"],
            )
        )
    return out


def scale_section(scale):
    sizes = scale.get("sizes", {})
    lines = [
        "",
        f"## Scale: `fetch` at 100,000 to 10,000,000 inputs (0 ms, c={scale['c']})",
        "",
        f"Measured by `bench/scale.py` (`bench/run.sh scale`; 10,000,000 with `bench/run.sh scale10m`, one "
        f"run per format, measured {scale.get('long_measured_at') or 'not yet'}): medians of {scale['runs']} runs, "
        "stdout to /dev/null, exit 0 (every page fetched) checked. Peak RSS from `/usr/bin/time`.",
        "",
        "| inputs | format | wall | req/s | CPU s | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for n, rows in sorted(sizes.items(), key=lambda kv: int(kv[0])):
        for fmt, r in rows.items():
            lines.append(
                f"| {int(n):,} | {fmt} | {r['wall']:.2f} s | {r['rps']:,.0f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} |"
            )
    w = scale.get("window")
    if w:
        lines += [
            "",
            f"**The reorder window** (65,536 pages): with page 0 held 8 s by the server while 100,000 fast "
            f"pages follow, the loops fill the window and wait. Peak RSS {w['stalled_rss_mib']:.1f} MiB against "
            f"{w['plain_rss_mib']:.1f} MiB without the stall"
            + (f" (medians of {w['runs']} alternating runs; stalled "
               f"{min(w['stalled_all']):.1f}-{max(w['stalled_all']):.1f} MiB)" if w.get("runs") else "")
            + f": the window held {w['held_mib']:.1f} MiB, about "
            f"{w['per_record_bytes']:.0f} bytes a parked record.",
        ]
    sm = scale.get("shard_merge")
    if sm:
        lines += [
            "",
            f"**Shards and merge**: {sm['n']:,} inputs as {sm['shards']} `--shard K/{sm['shards']}` processes side by "
            f"side (c={scale['c'] // sm['shards']} each) took {sm['shards_wall']:.1f} s; `pagefetch merge` of the "
            f"{sm['shards']} outputs took {sm['merge_wall']:.1f} s at {sm['merge_rss_mib']:.1f} MiB peak RSS; the merged "
            f"pages {'equal' if sm['equal'] else '**differ from**'} an unsharded run's, field by field.",
        ]
    m = scale.get("merge10m")
    if m:
        lines += [
            "",
            f"**Merging 10,000,000 records** from 8 files (the 10M ndjson output split by index mod 8): "
            f"{m['wall']:.1f} s, {m['rss_mib']:.1f} MiB peak RSS; merged page lines "
            f"{'byte-identical to' if m['equal'] else '**not identical to**'} the original's.",
        ]
    return lines


def targets(results, startup_s, cold=None):
    """Each target of the performance issues: (what, measured, met)."""
    by = {sc["name"]: sc["rows"] for sc in results}
    out = []

    def row(sc, tool):
        return by.get(sc, {}).get(tool)

    for sc in ("seed6", "fanout1k", "wide10k"):
        for tool in ("pagefetch joinset", "pagefetch join-all"):
            r = row(sc, tool)
            if r:
                x = r["wall"] / r["ideal"]
                out.append((f"{sc}: {tool} wall <= 1.05x ideal", f"{x:.3f}x", x <= 1.05))
    seq, js = row("seed6", "pagefetch sequential"), row("seed6", "pagefetch joinset")
    if seq and js:
        x = seq["wall"] / js["wall"]
        out.append(("seed6: speedup of joinset over sequential >= 5.7x", f"{x:.2f}x", x >= 5.7))
    for sc in ("burst10k", "big100k"):
        js = row(sc, "pagefetch joinset")
        if not js:
            continue
        for peer, factor in (("oha", 1), ("curl -Z", 2), ("Python lesson", 10)):
            p = row(sc, peer)
            if p:
                x = js["rps"] / p["rps"]
                out.append((f"{sc}: joinset req/s >= {factor}x {peer}", f"{x:.2f}x ({js['rps']:,.0f} vs {p['rps']:,.0f})", x >= factor))
        seq, cseq = row(sc, "pagefetch sequential"), row(sc, "curl (sequential)")
        if seq and cseq:
            x = cseq["wall"] / seq["wall"]
            out.append((f"{sc}: sequential at least as fast as curl (sequential)", f"{x:.2f}x curl's speed", x >= 1.0))
    big = row("big100k", "pagefetch joinset")
    if big:
        out.append(("big100k: joinset peak RSS <= 32 MiB", f"{big['rss_mib']:.1f} MiB", big["rss_mib"] <= 32))
    tls = by.get("tls5k", {})
    for mine, theirs in (
        ("pagefetch joinset", "oha --insecure --http2"),
        ("pagefetch joinset", "curl -Z"),
        ("pagefetch joinset --http1.1", "oha --insecure"),
        ("pagefetch joinset --http1.1", "curl -Z"),
    ):
        a, b = tls.get(mine), tls.get(theirs)
        if a and b:
            x = a["rps"] / b["rps"]
            label = mine.replace("pagefetch joinset", "pagefetch HTTP/2").replace("HTTP/2 --http1.1", "HTTP/1.1")
            out.append((f"tls5k: {label} req/s ahead of {theirs}", f"{x:.2f}x ({a['rps']:,.0f} vs {b['rps']:,.0f})", x >= 1.0))
    if cold:
        x = cold["pagefetch"] / cold["curl"]
        out.append(
            (
                "tlscold: one HTTPS page in a new process <= 1.3x curl",
                f"{x:.2f}x ({cold['pagefetch'] * 1000:.2f} ms vs {cold['curl'] * 1000:.2f} ms, medians of {cold['runs']})",
                x <= 1.3,
            )
        )
        worst = max(cold["page0"], key=lambda fm: fm[0] - fm[1])
        ok = all(first <= 1.5 * med or first - med <= 2.0 for first, med in cold["page0"])
        out.append(
            (
                "tlscold: page 0 of a sequential run (a handshake per page) within 1.5x or 2 ms of pages 1-9",
                f"worst of 5 runs: page 0 {worst[0]:.2f} ms vs median {worst[1]:.2f} ms",
                ok,
            )
        )
    scale = load_scale()
    if scale:
        out += scale_targets(scale)
    pace = load_json("pace.json")
    if pace:
        out += pace_targets(pace)
    if startup_s is not None:
        pf, floor = startup_s
        out.append(
            (
                "startup: pagefetch --version median < 2 ms",
                f"{pf * 1000:.2f} ms (/bin/true: {floor * 1000:.2f} ms)",
                pf < 0.002,
            )
        )
    return out


def write_report(path, results, startup_s, runs, measured_at, cold=None):
    v = versions()
    lines = [
        "# pagefetch benchmarks",
        "",
        f"Measured {measured_at} by `bench/run.sh` "
        f"({runs} measured runs per tool after one warm-up; medians).",
        "",
        f"- Machine: {machine()}.",
        "- Every tool fetches from one `pagefetch serve` on 127.0.0.1 (loopback) with the scenario's latency; "
        "page sizes are fixed per term (10,000-59,999 bytes). The server shares the 2 cores with the client.",
        "- Each tool's output is checked: every page present with the right size, else the tool is marked invalid.",
        "- wall: spawn to exit of the process (under `/usr/bin/time`), timed with a blocking `wait4`; CPU: user+sys "
        "of the process and its children; peak RSS: the largest resident set among them (both from `/usr/bin/time`).",
        "- ideal: ceil(pages / concurrency) x latency (pages x latency for the sequential tools).",
        "- Versions: " + "; ".join(f"{k}: {val}" for k, val in v.items()) + ".",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for what, measured, met in targets(results, startup_s, cold):
        lines.append(f"| {what} | {measured} | {'yes' if met else '**no**'} |")
    notes = os.path.join(BENCH, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += ["", f.read().rstrip()]
    for sc in results:
        n, lat, c = sc["pages"], sc["latency_ms"], sc["concurrency"]
        lines += ["", f"## {sc['name']}: {n:,} pages, {lat} ms latency, concurrency {c}", "", table(sc), ""]
        for tool, why in sc["failures"].items():
            lines.append(f"- {tool}: **invalid result** ({why})")
        for tool, why in sc["skipped"].items():
            lines.append(f"- {tool}: not run ({why})")
        lines += ["", "<details><summary>commands</summary>", "", "```"]
        lines += [f"{tool}: {cmd}" for tool, cmd in sc["commands"].items()]
        lines += ["```", "", "</details>"]
    scale = load_scale()
    if scale:
        lines += scale_section(scale)
    pace = load_json("pace.json")
    if pace:
        lines += pace_section(pace)
    if cold:
        lines += [
            "",
            "## tlscold: one HTTPS page in a new process",
            "",
            f"Medians of {cold['runs']} runs each, alternating, against `pagefetch serve --tls` on loopback: "
            f"pagefetch {cold['pagefetch'] * 1000:.2f} ms, curl {cold['curl'] * 1000:.2f} ms.",
            "",
            "A sequential `--http1.1` run of 10 pages against a server that closes every connection (`close=1`), "
            "so each page makes its own TLS handshake, 5 times: page 0 and the median of pages 1-9, in ms: "
            + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in cold["page0"])
            + ".",
            "",
            "```",
            cold["commands"]["pagefetch"],
            cold["commands"]["curl"],
            "```",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 5)))
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite BENCHMARKS.md from bench/out/results.json without measuring again",
    )
    args = ap.parse_args()
    if args.report_only:
        with open(os.path.join(OUT, "results.json")) as f:
            saved = json.load(f)
        write_report(
            os.path.join(ROOT, "BENCHMARKS.md"),
            saved["results"],
            tuple(saved["startup_s"]),
            saved["runs"],
            saved["measured_at"],
            saved.get("tls_cold"),
        )
        return
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit(f"bench: unknown scenario {unknown[0]!r} (known: {', '.join(SCENARIOS)})")
    # c=1000 needs more descriptors than the usual 1024; children inherit the raised limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.makedirs(OUT, exist_ok=True)
    results = []
    for name in names:
        print(f"bench: {name}", file=sys.stderr)
        results.append(run_scenario(name, args.runs))
    startup_s = startup()
    cold = tls_cold() if "tls5k" in names else None
    measured_at = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    with open(os.path.join(OUT, "results.json"), "w") as f:
        saved = {
            "results": results,
            "startup_s": list(startup_s),
            "runs": args.runs,
            "measured_at": measured_at,
            "tls_cold": cold,
        }
        json.dump(saved, f, indent=1)
    full = names == list(SCENARIOS)
    path = os.path.join(ROOT, "BENCHMARKS.md") if full else os.path.join(OUT, "BENCHMARKS-partial.md")
    write_report(path, results, startup_s, args.runs, measured_at, cold)
    print(f"bench: wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
