#!/usr/bin/env bash
# Starts `alphery serve` detached (settings in env.sh), by the yardstick's lib/server.sh (pid file in
# $BENCH_SCRATCH/results/pids/alphery.pid). Removes what an interrupted W1 run left first (../storage.sql).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
# shellcheck source-path=SCRIPTDIR
source ./env.sh
[[ -x $ALPHERY_BIN ]] || { echo "no $ALPHERY_BIN (bench/run.sh builds it; or set ALPHERY_BIN)" >&2; exit 1; }
[[ -s tenant-headers.tsv ]] || { echo "no $PWD/tenant-headers.tsv: run bench/load.sh first" >&2; exit 1; }
mkdir -p "$DATA_DIR"
if [[ -n $("$BENCH_SCRATCH/lib/server.sh" pid alphery | grep -v '^0$' || true) ]]; then
  echo "[alphery] already running"; exit 0
fi
timeout 600 psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -v w1_cleanup=1 -f ../storage.sql
exec timeout 900 "$BENCH_SCRATCH/lib/server.sh" start alphery "http://$BIND/healthz" "${ALPHERY_START_TIMEOUT:-600}" -- "$ALPHERY_BIN" serve
