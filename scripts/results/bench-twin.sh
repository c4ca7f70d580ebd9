#!/usr/bin/env bash
# Training speed of the PyTorch twin next to nestar's native path (issue #22), same config and steps, on this
# machine: nestar train (native pack, all cores), the twin on one process (torch's intra-op threads on all cores)
# and the twin on 2 DDP processes (torchrun, gloo, one thread each). Each run's trainSeconds (state.json) over its
# steps; writes results/twin-bench.json. Usage: scripts/results/bench-twin.sh [STEPS=30] [CONFIG=...]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
STEPS=${STEPS:-30}
CONFIG=${CONFIG:-results/configs/mnist-patch-long.json}
PY=${NESTAR_PYTHON:-/usr/bin/python3}
out=runs/bench-twin
rm -rf "$out" && mkdir -p "$out"
$NESTAR train --config "$CONFIG" --steps "$STEPS" --checkpoint-every "$STEPS" --sample-every 100000 --out "$out/nestar" > "$out/nestar.log" 2>&1
(cd python && PYTHONPATH=. $PY -m nestar_torch.train --config "../$CONFIG" --steps "$STEPS" --out "../$out/torch1") > "$out/torch1.log" 2>&1
(cd python && PYTHONPATH=. OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 --redirects 2 --tee 2 -m nestar_torch.train --config "../$CONFIG" --steps "$STEPS" --out "../$out/torch2") > "$out/torch2.log" 2>&1
node -e '
const fs = require("fs"), [out, steps, config] = process.argv.slice(1);
const st = (r) => JSON.parse(fs.readFileSync(`${out}/${r}/checkpoints/step-${String(steps).padStart(7, "0")}/state.json`, "utf8"));
const rows = [["nestar", "nestar train (native pack)"], ["torch1", "PyTorch twin, 1 process"], ["torch2", "PyTorch twin, 2 DDP processes (gloo)"]]
  .map(([r, label]) => { const s = st(r); return { run: label, backend: s.backend, steps: s.step, seconds: s.trainSeconds, secondsPerStep: s.trainSeconds / s.step }; });
const res = { command: "scripts/results/bench-twin.sh", config, steps: Number(steps), date: new Date().toISOString(), rows,
  torchOverNestar: rows[0].secondsPerStep / rows[1].secondsPerStep, ddpSpeedup: rows[1].secondsPerStep / rows[2].secondsPerStep };
fs.writeFileSync("results/twin-bench.json", JSON.stringify(res, null, 1) + "\n");
for (const r of rows) console.log(`${r.run}: ${r.secondsPerStep.toFixed(3)} s/step (${r.backend})`);
console.log(`PyTorch 1 process vs nestar: ${res.torchOverNestar.toFixed(2)}x the steps/s; 2 DDP processes vs 1: ${res.ddpSpeedup.toFixed(2)}x`);
' "$out" "$STEPS" "$CONFIG"
