#!/usr/bin/env bash
# A Slurm array job: task K of N fetches shard K/N of the list into out/shard-K.ndjson, resuming
# if the task is run again. When every task is done, merge them (see the last line).
#
#   sbatch --array=0-7 deploy/slurm.sh             # 8 shards: --shard auto/8 reads SLURM_ARRAY_TASK_ID
#                                                  # (minus SLURM_ARRAY_TASK_MIN, so 1-8 works too)
#   pagefetch merge out/shard-*.ndjson > out/all.ndjson
#
#SBATCH --job-name=pagefetch
#SBATCH --array=0-3
#SBATCH --cpus-per-task=1
#SBATCH --mem=256M
#SBATCH --time=01:00:00
#SBATCH --output=out/slurm-%A_%a.log
set -euo pipefail
URLS=${URLS:-urls.txt}
OUT=${OUT:-out}
TEMPLATE=${TEMPLATE:-https://www.google.com/search?q=\{\}}
SHARDS=${SLURM_ARRAY_TASK_COUNT:-4}
mkdir -p "$OUT"
pagefetch fetch -q -c 64 --shard "auto/$SHARDS" -t "$TEMPLATE" -f "$URLS" \
  --resume "$OUT/shard-${SLURM_ARRAY_TASK_ID}.ndjson"
