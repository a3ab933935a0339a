#!/usr/bin/env bash
# Issue 7 on a GPU machine: `harness evaluate --data DIR` on real records of openai/parameter-golf,
# with shards prepared from the FineWeb sample and a short run. Usage:
#   bench/repro_gpu.sh DOCS.jsonl fineweb_1024_bpe.model OUT_DIR RECORD_DIR...
# Each record gets OUT_DIR/<name>.json and .html, and the sandboxed runs' captured output and logs
# in OUT_DIR/<name>.logs/ (the copies with their checkpoints stay in a temporary folder).
set -uo pipefail
DOCS=$1; TOK=$2; OUT=$3; shift 3
DATA=$(mktemp -d)
python -m harness data prepare --docs "$DOCS" --tokenizer "$TOK" --out "$DATA/datasets/fineweb10B_sp1024" --val-docs 50
mkdir -p "$DATA/tokenizers" "$OUT" && cp "$TOK" "$DATA/tokenizers/fineweb_1024_bpe.model"
SHORT=(--env ITERATIONS=60 --env MAX_WALLCLOCK_SECONDS=90 --env WARMUP_STEPS=3 --env VAL_LOSS_EVERY=0
       --env TRAIN_BATCH_TOKENS=65536 --env TRAIN_LOG_EVERY=10)
for REC in "$@"; do
  NAME=$(basename "$REC")
  echo "== $NAME"
  SECONDS=0
  python -m harness evaluate "$REC" --data "$DATA" --seeds 1337 "${SHORT[@]}" --grace 60 \
    --workdir "$DATA/work/$NAME" --json "$OUT/$NAME.json" --html "$OUT/$NAME.html" --exit-zero 2>&1 | grep -v "win/s"
  echo "wall ${SECONDS} s"
  mkdir -p "$OUT/$NAME.logs"
  cp "$DATA/work/$NAME"/logs/* "$OUT/$NAME.logs/" 2>/dev/null
  find "$DATA/work/$NAME" -path '*/logs/*.txt' -exec cp {} "$OUT/$NAME.logs/" \;
  tail -n 5 "$OUT/$NAME.logs/"*.stderr
done

# RESCORE_VARIANTS=1: re-score each produced artifact again with the model server's variants
# (compiled or eager forward; the baseline's bf16 recipe or the model as built), to show which
# one reproduces the script's own evaluation. Uses the copy the full run left behind.
if [ "${RESCORE_VARIANTS:-0}" = 1 ]; then
  for REC in "$@"; do
    NAME=$(basename "$REC")
    COPY="$DATA/work/$NAME/run_seed1337/$NAME"
    rm -f "$COPY"/*.log "$COPY/train.log"  # the record's own logs: keep only the reproduced run's
    for V in "on -" "off -" "on PG_HARNESS_DTYPES=built" "off PG_HARNESS_DTYPES=built"; do
      set -- $V
      EXTRA=(); [ "$2" != "-" ] && EXTRA=(--env "$2")
      python -m harness evaluate "$COPY" --data "$DATA" --no-train --no-probe --no-lint --rescore-compile "$1" "${EXTRA[@]}" \
        --no-report --format json --exit-zero 2>/dev/null | python -c "
import json, sys
d = json.load(sys.stdin); r = d.get('rescore') or {}
print('$NAME', 'compile=$1', '$2', r.get('forward'), '|', r.get('dtypes'), '|',
      [(m['mode'], round(m['val_bpb'], 6), m.get('logged'), None if m.get('gap') is None else f\"{m['gap']:+.2e}\") for m in r.get('modes', [])])"
    done
  done
fi
