#!/usr/bin/env bash
# Reproducible benchmark: installs the peers it needs, builds pagefetch, runs the scenarios and
# writes BENCHMARKS.md (all scenarios) or bench/out/BENCHMARKS-partial.md (a subset).
#
#   bench/run.sh                      # every scenario: seed6 fanout1k wide10k burst10k big100k tls5k,
#                                     # then the scale runs (bench/scale.py: 100k and 1M per format,
#                                     # the reorder window, 4 shards + merge)
#   bench/run.sh seed6 burst10k       # some of them
#   bench/run.sh scale                # only the scale runs, then BENCHMARKS.md from saved results
#   bench/run.sh scale10m             # the same plus 10M per format and a 10M-record merge (~40 min)
#   bench/run.sh window               # only the reorder window (medians), into the saved scale results
#   bench/run.sh pace                 # --rate 500 against oha -q 500 (bench/pace.py)
#   BENCH_RUNS=9 bench/run.sh seed6   # more measured runs (default 5; 3 for scale)
#
# Loopback only: every request goes to a `pagefetch serve` this script starts on 127.0.0.1:0.
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers, from the package registries only.
if ! command -v curl >/dev/null || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq curl time
fi
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import aiohttp' 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q aiohttp
fi
if [ ! -x bench/.tools/bin/oha ]; then
  cargo install --locked --root bench/.tools oha
fi

cargo build --release --locked
# Reference loops (bare reqwest, bare hyper) built with the same release settings.
cargo build --release --locked --manifest-path bench/floor/Cargo.toml
case "${1:-}" in
  scale | scale10m | window)
    python3 bench/scale.py "$1"
    exec python3 bench/bench.py --report-only
    ;;
  pace)
    python3 bench/pace.py
    exec python3 bench/bench.py --report-only
    ;;
esac
python3 bench/bench.py "$@"
if [ $# -eq 0 ]; then
  python3 bench/scale.py
  python3 bench/pace.py
  python3 bench/bench.py --report-only
fi
