# shellcheck shell=bash
# Settings of the server under test (sourced by start.sh and stop.sh in this directory; bench/run.sh exports
# the overrides). Same as the yardstick's targets/alphery/env.sh, except the paths and the rate-limit budgets (end).
BENCH_SCRATCH=${BENCH_SCRATCH:-/work/benchrun}              # the yardstick copy (lib/server.sh, results/)
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-release}
ALPHERY_BIN=${ALPHERY_BIN:-$CARGO_TARGET_DIR/release/alphery}
ALPHERY_PORT=${ALPHERY_PORT:-55070}                          # system.env's URL uses the same variable
ALPHERY_DB_URL=${ALPHERY_DB_URL:-postgres://bench:bench@127.0.0.1:55433/alphery}
export DATABASE_URL=$ALPHERY_DB_URL
export JWT_SECRET=alphery-bench-secret-0123456789abcdef0123456789
export DATA_DIR=$BENCH_SCRATCH/alphery-data
export BIND=127.0.0.1:$ALPHERY_PORT
export LOG=${LOG:-info}                                      # the default; nothing is logged per request at info
export ACCESS_TOKEN_TTL=86400                                # unused (API keys), as in the yardstick
export SEED_DEMO=false
# 1,001 tenants: the default LRU of 512 compiled schemas would evict on Q1's random tenants
export SCHEMA_CACHE_MB=${SCHEMA_CACHE_MB:-1024}
# no SMTP_URL / REDIS_URL / webhooks: the server talks to nothing but PostgreSQL on 127.0.0.1
# The benchmark drives ONE tenant (one API key) at thousands of requests a second on purpose: budgets
# far above any rate it reaches. The limiter still runs and charges every operation, so its cost is
# part of what is measured.
export RATE_LIMIT_TENANT=1000000000000
export RATE_LIMIT_USER=1000000000000
