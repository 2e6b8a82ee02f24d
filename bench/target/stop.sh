#!/usr/bin/env bash
# Stops the server, then deletes the records W1 wrote and the rollup cells they touched (../storage.sql).
# (audit_log and outbox rows of W1 stay: audit_log is append-only.)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
# shellcheck source-path=SCRIPTDIR
source ./env.sh
"$BENCH_SCRATCH/lib/server.sh" stop alphery
timeout 600 psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -v w1_cleanup=1 -f ../storage.sql
