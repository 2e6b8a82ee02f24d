#!/usr/bin/env bash
# bench/run.sh — the performance yardstick (/work/shared/bench) end to end against this checkout.
#
#   bench/run.sh [--queries q1,q2,q3,q4,w1] [--seconds N] [--skip-setup] [--skip-load] [--skip-build]
#                [--repeat N] [--tag TAG] [--scratch DIR]
#
# Stages: copy the yardstick to a scratch folder (default /work/benchrun; skipped when up to date) ->
# its setup.sh (PostgreSQL 15 on 127.0.0.1:55433 + the data set) -> release build of `alphery`
# (nice, CARGO_TARGET_DIR=/work/target-release) -> bench/load.sh (database `alphery`) -> raw.sh (pgbench,
# the physical limit) -> peers.sh with bench/target (this server; + PostGraphile with WITH_POSTGRAPHILE=1)
# -> the ratio table (python3 lib/bench.py report). Everything binds to 127.0.0.1; every stage is bounded
# by `timeout`. The cluster is left running (re-use it with --skip-setup --skip-load); the server is stopped.
#   --seconds N       PGBENCH_SECONDS and WRK_SECONDS (default 20 each; warm-up WARMUP_SECONDS=5)
#   --skip-setup      the cluster must be running with the data (from an earlier run)
#   --skip-load       re-use the loaded database `alphery` and bench/target/tenant-headers.tsv
#   --skip-build      use the existing binary (ALPHERY_BIN)
# env: BENCH_SCRATCH (/work/benchrun), SHARED_BENCH (/work/shared/bench), CARGO_TARGET_DIR (/work/target-release),
#      ALPHERY_BIN ($CARGO_TARGET_DIR/release/alphery), WITH_POSTGRAPHILE=1, INDEXED=big|all|none (see load.sh),
#      SCHEMA_CACHE_MB (1024), PGBENCH_CLIENTS/THREADS, WRK_THREADS/CONNS, WARMUP_SECONDS.
# Results: $BENCH_SCRATCH/results/results.jsonl (rows), results/{raw,peers}/<run id>/ (tool output,
# validation samples), results/report-<peers run id>.md (the table), results/run-<peers run id>.log (stage times).
# shellcheck disable=SC2016  # single-quoted bash -c scripts take their arguments as $1...
set -euo pipefail
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$PROJECT/bench
SHARED_BENCH=${SHARED_BENCH:-/work/shared/bench}
export BENCH_SCRATCH=${BENCH_SCRATCH:-/work/benchrun}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-release}
export ALPHERY_BIN=${ALPHERY_BIN:-$CARGO_TARGET_DIR/release/alphery}
QUERIES=q1,q2,q3,q4,w1; SKIP_SETUP=0; SKIP_LOAD=0; SKIP_BUILD=0; REPEAT=1; TAG=alphery
usage() { sed -n '2,22p' "$0"; }
while [[ $# -gt 0 ]]; do case "$1" in
  --queries) QUERIES=$2; shift 2;;
  --seconds) export PGBENCH_SECONDS=$2 WRK_SECONDS=$2; shift 2;;
  --skip-setup) SKIP_SETUP=1; shift;;
  --skip-load) SKIP_LOAD=1; shift;;
  --skip-build) SKIP_BUILD=1; shift;;
  --repeat) REPEAT=$2; shift 2;;
  --tag) TAG=$2; shift 2;;
  --scratch) BENCH_SCRATCH=$2; shift 2;;
  -h|--help) usage; exit 0;;
  *) echo "unknown argument $1" >&2; usage >&2; exit 2;;
esac; done
[[ $QUERIES =~ ^(q[1-4]|w1)(,(q[1-4]|w1))*$ ]] || { echo "--queries: comma-separated from q1,q2,q3,q4,w1" >&2; exit 2; }
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "--repeat: a positive number" >&2; exit 2; }
[[ -z ${PGBENCH_SECONDS:-} || $PGBENCH_SECONDS =~ ^[1-9][0-9]*$ ]] || { echo "--seconds: a positive number" >&2; exit 2; }
for t in psql pgbench wrk python3 curl ss rsync cargo; do
  command -v $t >/dev/null || { echo "run.sh needs $t (wrk: apt-get install wrk)" >&2; exit 1; }
done
TARGET=$HERE/target
BENCH_DB_URL=postgres://bench:bench@127.0.0.1:55433/bench
export ALPHERY_DB_URL=${ALPHERY_DB_URL:-postgres://bench:bench@127.0.0.1:55433/alphery}

mkdir -p "$BENCH_SCRATCH"
exec 9> "$BENCH_SCRATCH/.run.lock"
flock -n 9 || { echo "another bench/run.sh is using $BENCH_SCRATCH" >&2; exit 1; }
RUNLOG=$BENCH_SCRATCH/run-current.log
: > "$RUNLOG"
STAGES=()
T_START=$(date +%s)
stage() { # stage NAME TIMEOUT_S CMD... — run, time, record
  local name=$1 to=$2 t0 rc=0; shift 2
  echo "==== [$name] $(date +%H:%M:%S) $*" | tee -a "$RUNLOG"
  t0=$(date +%s)
  if declare -F "$1" >/dev/null; then "$@" 2>&1 | tee -a "$RUNLOG" || rc=$?   # a function: bounds itself
  else timeout "$to" "$@" 2>&1 | tee -a "$RUNLOG" || rc=$?; fi
  STAGES+=("$(printf '%-8s %5d s  %s' "$name" $(( $(date +%s) - t0 )) "$([[ $rc == 0 ]] && echo ok || echo "FAILED (rc $rc)")")")
  if [[ $rc != 0 ]]; then echo "==== [$name] failed (rc $rc); log: $RUNLOG" >&2; exit "$rc"; fi
}
skipped() { STAGES+=("$(printf '%-8s     - s  skipped' "$1")"); }
on_exit() {
  # the server under test, if a failed stage left it running (by its pid file; the cluster stays up)
  if [[ -x $BENCH_SCRATCH/lib/server.sh ]]; then "$BENCH_SCRATCH/lib/server.sh" stop alphery >/dev/null 2>&1 || true; fi
  if [[ ${#STAGES[@]} -gt 0 ]]; then
    printf '\nstage times (total %d s):\n' $(( $(date +%s) - T_START ))
    printf '  %s\n' "${STAGES[@]}"
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------- 1. the yardstick's copy
# up to date = same content hash of the yardstick's files (pg/, results/, node_modules/ excluded)
shared_hash() {
  (cd "$SHARED_BENCH" && find . \( -path ./pg -o -path ./results -o -name node_modules \) -prune -o -type f -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
copy_yardstick() {
  timeout 600 rsync -a --chmod=u+w --delete --exclude=/pg/ --exclude=/results/ --exclude=node_modules/ --exclude=/project-targets/ \
    --exclude=/.run.lock --exclude=/.shared-hash --exclude='/run-*.log' --exclude=/alphery-data/ "$SHARED_BENCH/" "$BENCH_SCRATCH/"
  mkdir -p "$BENCH_SCRATCH/results"
  timeout 600 rsync -a --chmod=u+w --ignore-existing "$SHARED_BENCH/results/" "$BENCH_SCRATCH/results/"
  shared_hash > "$BENCH_SCRATCH/.shared-hash"
}
if [[ -x $BENCH_SCRATCH/setup.sh && -f $BENCH_SCRATCH/.shared-hash && $(cat "$BENCH_SCRATCH/.shared-hash") == "$(shared_hash)" ]]; then
  skipped copy
  echo "==== [copy] $BENCH_SCRATCH is up to date with $SHARED_BENCH" | tee -a "$RUNLOG"
else
  stage copy 600 copy_yardstick
fi
# the harness names a system after its directory: bench/target is measured as `alphery`
mkdir -p "$BENCH_SCRATCH/project-targets"
ln -sfn "$TARGET" "$BENCH_SCRATCH/project-targets/alphery"

# ---------------------------------------------------------------- 2. cluster + data
if [[ $SKIP_SETUP == 1 ]]; then
  skipped setup
  pg_isready -q -h 127.0.0.1 -p 55433 || { echo "--skip-setup: PostgreSQL is not running on 127.0.0.1:55433 (run without it)" >&2; exit 1; }
else
  # fd 9 (the run lock) closed: the cluster setup starts outlives this run and must not hold it
  stage setup 3600 "$BENCH_SCRATCH/setup.sh" 9>&-
fi

# ---------------------------------------------------------------- 3. release build
if [[ $SKIP_BUILD == 1 ]]; then
  skipped build
else
  stage build 5400 bash -c 'cd "$1" && nice -n 10 cargo build --release -p alphery-api --bin alphery' _ "$PROJECT"
fi
[[ -x $ALPHERY_BIN ]] || { echo "no $ALPHERY_BIN" >&2; exit 1; }

# ---------------------------------------------------------------- 4. load
if [[ $SKIP_LOAD == 1 ]]; then
  skipped load
  [[ -s $TARGET/tenant-headers.tsv ]] || { echo "--skip-load: no $TARGET/tenant-headers.tsv (run without it)" >&2; exit 1; }
else
  stage load 18000 env RECREATE_DB=1 "$HERE/load.sh" "$BENCH_DB_URL" "$ALPHERY_DB_URL" "$TARGET/tenant-headers.tsv"
fi

# ---------------------------------------------------------------- 5. raw PostgreSQL (pgbench)
nq=$(( $(tr ',' '\n' <<< "$QUERIES" | wc -l) * REPEAT ))
secs=${PGBENCH_SECONDS:-20}
stage raw $(( nq * 2 * (secs + 90) + 300 )) bash -c 'cd "$BENCH_SCRATCH" && ./raw.sh --queries "$1" --repeat "$2" --tag "$3"' _ "$QUERIES" "$REPEAT" "$TAG"
RAW_RUN=$(grep -oP '^\[raw\] run \K[^:]+' "$RUNLOG" | tail -1)

# ---------------------------------------------------------------- 6. GraphQL servers (wrk)
SYSTEMS=$BENCH_SCRATCH/project-targets/alphery
if [[ ${WITH_POSTGRAPHILE:-0} == 1 ]]; then
  pg_dir=$BENCH_SCRATCH/peers/postgraphile
  # no registry traffic from here: node_modules must be installed, or installable from npm's cache
  if [[ -x $pg_dir/node_modules/.bin/postgraphile ]] || (cd "$pg_dir" && timeout 600 npm ci --offline --no-audit --no-fund >/dev/null 2>&1); then
    SYSTEMS=postgraphile,$SYSTEMS
  else
    echo "==== WITH_POSTGRAPHILE=1 but $pg_dir/node_modules is missing and npm's cache cannot provide it:" \
         "run (cd $pg_dir && npm ci) once; measuring without PostGraphile" | tee -a "$RUNLOG"
  fi
fi
nsys=$(tr ',' '\n' <<< "$SYSTEMS" | wc -l)
wsecs=${WRK_SECONDS:-20}
stage peers $(( nsys * (nq * (wsecs + ${WARMUP_SECONDS:-5} + 120) + 900) )) \
  bash -c 'cd "$BENCH_SCRATCH" && ./peers.sh --systems "$1" --queries "$2" --repeat "$3" --tag "$4"' _ "$SYSTEMS" "$QUERIES" "$REPEAT" "$TAG"
PEERS_RUN=$(grep -oP '^\[peers\] done: .*\(run \K[^)]+' "$RUNLOG" | tail -1)

# ---------------------------------------------------------------- 7. report + validation summary
REPORT=$BENCH_SCRATCH/results/report-$PEERS_RUN.md
{
  echo "# bench/run.sh — raw run $RAW_RUN, peers run $PEERS_RUN"
  echo
  (cd "$BENCH_SCRATCH" && python3 lib/bench.py report --file results/results.jsonl --run "$RAW_RUN" --run "$PEERS_RUN")
  echo
  echo "Validation before each measurement (3 requests, or the one body of a fixed-variable query: HTTP 200, no \"errors\", non-empty data) and error bodies during it:"
  echo
  python3 - "$BENCH_SCRATCH/results" "$PEERS_RUN" <<'PY'
import glob, json, os, sys
res, run = sys.argv[1:3]
rows = [json.loads(l) for l in open(os.path.join(res, "results.jsonl")) if l.strip()]
for r in [r for r in rows if r.get("run") == run]:
    v = os.path.join(res, "peers", run, f"{r['system']}-{r['query'].lower()}.validate.txt")
    ok = sum(1 for l in open(v) if l.startswith("  ok http")) if os.path.exists(v) else 0
    b = os.path.join(res, "peers", run, f"{r['system']}-{r['query'].lower()}.jsonl")
    want = min(3, sum(1 for l in open(b) if l.strip())) if os.path.exists(b) else 3   # fixed-variable queries: 1 body
    state = "VALIDATION FAILED" if r.get("failed") else f"{ok}/{want} valid, {r.get('errors', 0)} error bodies / non-2xx in {r.get('n')} requests"
    print(f"- {r['system']} {r['query']}: {state}")
PY
  slog=$BENCH_SCRATCH/results/logs/alphery.log
  if [[ -f $slog ]]; then
    cp "$slog" "$BENCH_SCRATCH/results/peers/$PEERS_RUN/alphery-server.log"
    echo
    echo "Server log (results/peers/$PEERS_RUN/alphery-server.log), WARN/ERROR lines by message:"
    echo
    sed 's/\x1b\[[0-9;]*m//g' "$slog" | grep -E ' (WARN|ERROR) ' | sed -E 's/^[0-9T:.Z-]+ +//; s/request_id=[0-9a-f-]+/request_id=…/; s/[0-9]+\.[0-9]+/N/g' \
      | sort | uniq -c | sort -rn | head -20 | sed 's/^/    /' || true
  fi
} | tee "$REPORT"
cp "$RUNLOG" "$BENCH_SCRATCH/results/run-$PEERS_RUN.log"
echo
echo "report: $REPORT; rows: $BENCH_SCRATCH/results/results.jsonl; tool output: $BENCH_SCRATCH/results/{raw/$RAW_RUN,peers/$PEERS_RUN}/"
