#!/usr/bin/env bash
# Side-by-side speed of this checkout and an earlier commit (issue #19): batch-1 sampling latency and training
# steps (scripts/results/speed-probe.mts). Builds REV in a temporary worktree (its own native pack), runs the probe
# in each tree in turn, ROUNDS times (alternating, so machine noise hits both alike), and writes
# results/speed-ab.json (or OUT) with every run, the medians and before/head ratios. HEAD_BACKEND runs this
# checkout's probe on another backend (e.g. native-js; the earlier tree keeps its default).
# Usage: [HEAD_BACKEND=native-js] [OUT=results/x.json] OPENBLAS_NUM_THREADS=1 bash scripts/results/speed-ab.sh REV [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?usage: speed-ab.sh REV [ROUNDS]} rounds=${2:-3}
out=${OUT:-results/speed-ab.json}
export SPEED_AB_OUT=$out SPEED_AB_HEAD_BACKEND=${HEAD_BACKEND:-default}
old=$(mktemp -d /tmp/nestar-ab-XXXXXX)
trap 'git worktree remove --force "$old" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$old" "$rev" >/dev/null 2>&1
ln -s "$PWD/node_modules" "$old/node_modules"
cp -r vendor "$old/"
cp scripts/results/speed-probe.mts "$old/scripts/results/"
(cd "$old" && npm run build:native >/dev/null)
runs=()
for ((r = 0; r < rounds; r++)); do
  for tree in "$old" "$PWD"; do
    backend=()
    [ "$tree" = "$PWD" ] && [ -n "${HEAD_BACKEND-}" ] && backend=(env "NESTAR_BACKEND=$HEAD_BACKEND")
    line=$(cd "$tree" && "${backend[@]}" node --import tsx scripts/results/speed-probe.mts 2>/dev/null | tail -1)
    label=$([ "$tree" = "$PWD" ] && echo head || echo "$rev")
    echo "$label $line"
    runs+=("{\"tree\":\"$label\",\"ms\":$line}")
  done
done
node -e '
const runs = JSON.parse(process.argv[1]), rev = process.argv[2], head = process.argv[3];
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const keys = Object.keys(runs[0].ms), medians = {};
for (const t of [rev, "head"]) medians[t] = Object.fromEntries(keys.map((k) => [k, med(runs.filter((r) => r.tree === t).map((r) => r.ms[k]))]));
const speedup = Object.fromEntries(keys.map((k) => [k, medians[rev][k] / medians.head[k]]));
const hb = process.env.SPEED_AB_HEAD_BACKEND, file = process.env.SPEED_AB_OUT;
const out = { command: `${hb !== "default" ? `HEAD_BACKEND=${hb} ` : ""}${file !== "results/speed-ab.json" ? `OUT=${file} ` : ""}OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? ""} bash scripts/results/speed-ab.sh ${rev}`, date: new Date().toISOString(),
  revisions: { before: rev, head }, headBackend: hb, settings: "sampling: batch 1, 32 Euler steps; checkpoints CFG 1.25, 8x8/16x16 random-weight NestAR CFG 2; training: one step of mnist-patch-long.json (batch 64); median of 5 per run, trees alternated",
  runs, medians, speedup };
require("fs").writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
console.log("speed-up (before / head):", JSON.stringify(speedup));
' "[$(IFS=,; echo "${runs[*]}")]" "$rev" "$(git rev-parse --short HEAD)"
