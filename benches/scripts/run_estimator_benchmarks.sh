#!/usr/bin/env bash
# Time hemosurv's km/logrank/cox/cif subcommands against R (survival, cmprsk) and
# lifelines on the same files, from file to output tables, and check the numbers agree.
#
# Usage: run_estimator_benchmarks.sh [WORK_DIR]   (default /work/dev/perf; large files go there)
# Environment:
#   HEMOSURV   path of a release build (default: <repo>/target/release/hemosurv, copied into
#              WORK_DIR/bin so a rebuild during the run cannot change it)
#   REPEATS    runs per measurement, best kept (default 3)
#   JOBS       subset of "km2m km10m km2mreal cox cif" (default: all)
#   SKIP_FREAD set to 1 to skip the data.table::fread variants
#   MAX_LOAD   if set, before each run wait (at most WAIT_MAX s, default 180) until the
#              1-minute load average is below MAX_LOAD; the load is recorded either way
# Needs: python3 with numpy, pandas, pyarrow, lifelines; Rscript with survival, cmprsk
# (and data.table for the fread variants); GNU time at /usr/bin/time.
# Output: WORK_DIR/results.tsv (one line per run), WORK_DIR/logs/*, WORK_DIR/out/*,
#         and a Markdown summary from summarize_benchmarks.py on stdout.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/../.." && pwd)"
WORK="${1:-/work/dev/perf}"
REPEATS="${REPEATS:-3}"
JOBS="${JOBS:-km2m km10m km2mreal cox cif}"
mkdir -p "$WORK/data" "$WORK/out" "$WORK/logs" "$WORK/bin"
cp "${HEMOSURV:-$REPO/target/release/hemosurv}" "$WORK/bin/hemosurv"
HS="$WORK/bin/hemosurv"
D="$WORK/data"; O="$WORK/out"; L="$WORK/logs"
RESULTS="$WORK/results.tsv"
[ -f "$RESULTS" ] || printf 'job\ttool\trun\twall_s\tpeak_kb\tuser_s\tsys_s\tload1_before\n' > "$RESULTS"

gen() {  # gen KIND N FILE [--real]
  [ -f "$D/$3" ] || python3 "$SCRIPTS/gen_survival_data.py" "$1" "$2" "$D/$3" "${@:4}"
}

# measure JOB TOOL CMD...: run REPEATS times under /usr/bin/time -v, append to results.tsv
measure() {
  local job="$1" tool="$2"; shift 2
  local i log
  for i in $(seq 1 "$REPEATS"); do
    log="$L/$job.$tool.$i"
    if [ -n "${MAX_LOAD:-}" ]; then
      local waited=0
      while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAX_LOAD" 'BEGIN{exit !(l >= m)}' \
            && [ "$waited" -lt "${WAIT_MAX:-180}" ]; do sleep 5; waited=$((waited + 5)); done
    fi
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v -o "$log.time" "$@" > "$log.stdout" 2> "$log.stderr"
    local wall peak user sys
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(k=1;k<=n;k++) s=s*60+a[k]; print s}' "$log.time")
    peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
    user=$(awk -F': ' '/User time/ {print $2}' "$log.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$log.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$job" "$tool" "$i" "$wall" "$peak" "$user" "$sys" "$load" >> "$RESULTS"
    echo "$job $tool run $i: ${wall}s ${peak}KB (load $load)" >&2
  done
}

km_job() {  # km_job JOB FILE_STEM
  local job="$1" f="$2"
  for fmt in csv parquet; do
    # One process, one read of the file: KM tables + the log-rank test (km --logrank).
    measure "$job" "hemosurv-km+logrank-$fmt" "$HS" km "$D/$f.$fmt" --time time --event status --group group --logrank --out "$O/hs_$job.$fmt"
  done
  measure "$job" "R-read.csv" Rscript "$SCRIPTS/time_r_km.R" read.csv "$D/$f.csv" "$O/r_$job"
  [ "${SKIP_FREAD:-0}" = 1 ] || measure "$job" "R-fread" Rscript "$SCRIPTS/time_r_km.R" fread "$D/$f.csv" "$O/rf_$job"
  measure "$job" "lifelines" python3 "$SCRIPTS/time_lifelines_km.py" "$D/$f.csv" "$O/ll_$job"
  for fmt in csv parquet; do
    python3 "$SCRIPTS/compare_outputs.py" km "$O/hs_$job.$fmt" "$O/r_$job" "$O/ll_$job" > "$L/$job.compare.$fmt.txt" || true
  done
}

# one_job JOB FILE_STEM R_SCRIPT SUBCOMMAND ARGS...: hemosurv on CSV and Parquet, R with both
# readers, then the agreement check of each hemosurv output against R's
one_job() {
  local job="$1" f="$2" rscript="$3"; shift 3
  local fmt
  for fmt in csv parquet; do
    measure "$job" "hemosurv-$job-$fmt" "$HS" "$@" "$D/$f.$fmt" --out "$O/hs_$job.$fmt"
  done
  measure "$job" "R-read.csv" Rscript "$SCRIPTS/$rscript" read.csv "$D/$f.csv" "$O/r_$job"
  [ "${SKIP_FREAD:-0}" = 1 ] || measure "$job" "R-fread" Rscript "$SCRIPTS/$rscript" fread "$D/$f.csv" "$O/rf_$job"
  for fmt in csv parquet; do
    python3 "$SCRIPTS/compare_outputs.py" "$job" "$O/hs_$job.$fmt" "$O/r_$job" > "$L/$job.compare.$fmt.txt" || true
  done
}

for job in $JOBS; do
  case "$job" in
    km2m)     gen km 2e6 km_2m.csv; km_job km2m km_2m ;;
    km10m)    gen km 1e7 km_10m.csv; km_job km10m km_10m ;;
    km2mreal) gen km 2e6 km_2m_real.csv --real; km_job km2mreal km_2m_real ;;
    cox)
      gen cox 1e6 cox_1m.csv
      one_job cox cox_1m time_r_cox.R cox --time time --event status --covariates age,male,ldh,flt3,score --ties efron ;;
    cif)
      gen cif 1e6 cif_1m.csv
      one_job cif cif_1m time_r_cif.R cif --time time --event cause --group group ;;
    *) echo "unknown job $job" >&2; exit 2 ;;
  esac
done
# start-up cost alone (no data): interpreter + package load
measure startup "R-library(survival)" Rscript -e 'suppressPackageStartupMessages(library(survival))'
measure startup "python-import-lifelines" python3 -c 'import pandas, lifelines, lifelines.statistics'
measure startup "hemosurv--help" "$HS" --help
grep -H -E 'FAIL|DISAGREE|all compared' "$L"/*.compare.*.txt >&2 || true
python3 "$SCRIPTS/summarize_benchmarks.py" "$RESULTS" "$L"
