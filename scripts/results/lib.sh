# Shared by the scripts in scripts/results/ (sourced, not run): the CLI, and running one resumable training
# command with its log and wall-clock recorded.
NESTAR="node --import tsx src/cli/main.ts"

# timed_run LABEL RUN_DIR TIMING_LOG COMMAND...: runs COMMAND (a `nestar train` or `train-tokenizer` for
# RUN_DIR), appends its output to RUN_DIR/train.log and "LABEL: <s> s wall this invocation, finished <time>"
# to TIMING_LOG (issue #10 records each run's wall-clock; a resumed run has one line per invocation).
# A failing command stops the calling script (set -e with pipefail): a crashed run is never exported.
timed_run() {
  local label=$1 run=$2 timing=$3 start
  shift 3
  mkdir -p "$run" "$(dirname "$timing")"
  start=$(date +%s)
  "$@" 2>&1 | tr '\r' '\n' >> "$run/train.log"
  echo "$label: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$timing"
}

# train_run LABEL RUN_DIR TIMING_LOG [FLAGS...]: `nestar train` into RUN_DIR, resuming from its last checkpoint
# when there is one (FLAGS are for a fresh start only: the checkpoint holds the config).
train_run() {
  local label=$1 run=$2 timing=$3
  shift 3
  if [ -f "$run/latest.json" ]; then set -- --resume; fi
  timed_run "$label" "$run" "$timing" $NESTAR train --out "$run" "$@"
}

# backend_line RUN_DIR: the backend the run's trainer reported (engine, BLAS core type and threads).
backend_line() { grep -m1 '^backend:' "$1/train.log" || true; }

# train_export LABEL RUN_DIR CHECKPOINT TIMING_LOG SOURCE TRAIN_ARGS...: unless CHECKPOINT holds an export, trains
# (resuming) into RUN_DIR, notes the backend in TIMING_LOG and exports SOURCE (the run dir or one of its
# checkpoints) in F16 to CHECKPOINT.
train_export() {
  local label=$1 run=$2 ckpt=$3 timing=$4 src=$5
  shift 5
  [ -f "$ckpt/state.json" ] && return 0
  train_run "$label" "$run" "$timing" "$@"
  backend_line "$run" >> "$timing"
  $NESTAR export --checkpoint "$src" --out "$ckpt" --fp16
}

# side_by_side FN ARGS... -- ARGS...: FN with the first arguments and FN with the second as two background jobs (the
# two cores, one BLAS thread each unless OPENBLAS_NUM_THREADS is set); fails if either does.
side_by_side() {
  local fn=$1 first=() a b status=0
  shift
  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  while [ "$1" != -- ]; do first+=("$1"); shift; done
  shift
  "$fn" "${first[@]}" & a=$!
  "$fn" "$@" & b=$!
  wait "$a" || status=1
  wait "$b" || status=1
  return $status
}

# train_facts CHECKPOINT OUT_JSON: the checkpoint's step, training seconds and backend (what a scaling curve's x axis
# needs, kept beside the report since run folders are not committed).
train_facts() {
  node -e "const s=JSON.parse(require('fs').readFileSync('$1/state.json','utf8'));require('fs').writeFileSync('$2',JSON.stringify({checkpoint:'$1',step:s.step,trainSeconds:s.trainSeconds,backend:s.backend})+'\n')"
}
