#!/usr/bin/env bash
# The documented scale run (docs/performance.md): a 1,000,000-patient simulated cohort
# (Parquet), then HLH detection and the whole study run on it, each under /usr/bin/time -v.
# Usage: benches/scripts/scale_run.sh [DIR]   (needs ~1 GB free in DIR; release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${1:-/tmp/hemosurv-scale}"
N="${SCALE_PATIENTS:-1000000}"
cargo build --release --locked
BIN=target/release/hemosurv
mkdir -p "$DIR"
uptime
timed() { local name=$1; shift; /usr/bin/time -v "$@" 2> "$DIR/$name.time" | tail -20; grep -E "Elapsed|Maximum resident" "$DIR/$name.time"; }
[ -f "$DIR/cohort/measurements.parquet" ] || timed simulate "$BIN" simulate --patients "$N" --seed 1 --format parquet --out "$DIR/cohort"
timed detect "$BIN" detect "$DIR/cohort" --criteria hlh2004 --out "$DIR/detect" --force
timed run "$BIN" run "$DIR/cohort" --out "$DIR/run" --force --quiet
python3 - "$DIR/run/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print("stages:", ", ".join(f"{s['name']} {s['seconds']:.1f}s" for s in m["stages"]))
print("rows:", m["row_counts"])
PY
