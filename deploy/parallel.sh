#!/usr/bin/env bash
# Fetch one list in SHARDS pieces, side by side, then merge them into one NDJSON stream in input
# order. With SSHLOGINFILE set (GNU parallel's --sshloginfile: one host a line), the shards run on
# those machines; otherwise as local background jobs. Each shard resumes from its own file, so
# running this again after a crash or a lost machine fetches only what is missing.
#
#   SHARDS=8 URLS=urls.txt OUT=out deploy/parallel.sh
#   SSHLOGINFILE=hosts.txt SHARDS=32 deploy/parallel.sh      # pagefetch must be on every host's PATH
#
# Variables: SHARDS (default 4), URLS (urls.txt), OUT (out), TEMPLATE (pagefetch's default search),
# CONCURRENCY (64). The merged stream is $OUT/all.ndjson; its last line is the summary.
set -euo pipefail
SHARDS=${SHARDS:-4}
URLS=${URLS:-urls.txt}
OUT=${OUT:-out}
TEMPLATE=${TEMPLATE:-https://www.google.com/search?q=\{\}}
CONCURRENCY=${CONCURRENCY:-64}
mkdir -p "$OUT"

if [ -n "${SSHLOGINFILE:-}" ]; then
  # {} is the shard number K; --transferfile sends the list, --return brings the shard's output
  # back, --cleanup removes both from the remote host.
  seq 0 $((SHARDS - 1)) | parallel --sshloginfile "$SSHLOGINFILE" --jobs 1 \
    --transferfile "$URLS" --return "$OUT/shard-{}.ndjson" --cleanup \
    "mkdir -p '$OUT' && pagefetch fetch -q -c '$CONCURRENCY' --shard {}/$SHARDS -t '$TEMPLATE' \
       -f '$URLS' --resume '$OUT/shard-{}.ndjson'"
else
  pids=()
  for k in $(seq 0 $((SHARDS - 1))); do
    pagefetch fetch -q -c "$CONCURRENCY" --shard "$k/$SHARDS" -t "$TEMPLATE" \
      -f "$URLS" --resume "$OUT/shard-$k.ndjson" &
    pids+=("$!")
  done
  status=0
  for pid in "${pids[@]}"; do
    wait "$pid" || status=$?        # 1: some page failed; the shard is still complete
    if [ "$status" -gt 1 ]; then exit "$status"; fi
  done
fi

pagefetch merge "$OUT"/shard-*.ndjson > "$OUT/all.ndjson"
tail -1 "$OUT/all.ndjson"
