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
  # @K is the shard number (-I: the template's own {} must reach pagefetch untouched). The list
  # and the shard's file go to its host (--transferfile; the file is empty the first time, so a
  # rerun resumes the shard there), the file comes back when the shard ends (--return), and
  # --cleanup removes both from the host. A shard that exits 1 (some page failed) is complete;
  # 2 and above fail the job. Set PARALLEL_SSH to change the ssh command (e.g. 'ssh -J bastion').
  for k in $(seq 0 $((SHARDS - 1))); do touch "$OUT/shard-$k.ndjson"; done
  q() { printf '%q' "$1"; }
  seq 0 $((SHARDS - 1)) | parallel -I @K --sshloginfile "$SSHLOGINFILE" --jobs 1 \
    --transferfile "$URLS" --transferfile "$OUT/shard-@K.ndjson" \
    --return "$OUT/shard-@K.ndjson" --cleanup \
    "pagefetch fetch -q -c $(q "$CONCURRENCY") --shard @K/$SHARDS -t $(q "$TEMPLATE") \
       -f $(q "$URLS") --resume $(q "$OUT")/shard-@K.ndjson || [ \$? -eq 1 ]"
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
