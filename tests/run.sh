#!/usr/bin/env bash
# Runs the workspace's unit tests, then the black-box integration suite (`alphery-tests`, test
# binary `it`) twice: on SQLite (ALPHERY_TEST_DATABASE_URL unset) and on PostgreSQL. Backends
# that are down are started; a backend that stays unreachable fails the run loudly — nothing is
# ever skipped. Every stage runs even when an earlier one failed; the exit status is non-zero if
# any failed.
#
#   bash tests/run.sh                 # everything
#   bash tests/run.sh some_test_name  # extra arguments go to the integration `cargo test` runs
#
# Honours CARGO_TARGET_DIR. PostgreSQL URL: ALPHERY_TEST_PG_URL, default below.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_HOST=127.0.0.1
PG_PORT=5432
PG_URL="${ALPHERY_TEST_PG_URL:-postgres://postgres@${PG_HOST}:${PG_PORT}/test}"
REDIS_PORT=6379

banner() {
    local line="=================================================================================="
    printf '\n%s\n  %s\n%s\n' "$line" "$*" "$line"
}

fail() {
    echo "run.sh: FATAL: $*" >&2
    exit 1
}

ensure_postgres() {
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
        return 0
    fi
    echo "PostgreSQL is not ready on ${PG_HOST}:${PG_PORT}; starting it"
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)" ||
        fail "no PostgreSQL cluster under /etc/postgresql"
    [[ -n "$version" ]] || fail "no PostgreSQL cluster under /etc/postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
        echo "pg_ctlcluster $version main start failed; waiting anyway" >&2
    for _ in $(seq 1 30); do
        if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
            return 0
        fi
        sleep 1
    done
    fail "PostgreSQL is still not reachable on ${PG_HOST}:${PG_PORT} after 30 s"
}

# Tests of the job queue in Redis and of rate limits shared between instances use the Redis on
# 127.0.0.1:6379 (the instance test starts a redis-server of its own, which it can kill).
ensure_redis() {
    if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
        return 0
    fi
    echo "Redis is not answering on 127.0.0.1:${REDIS_PORT}; starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
        echo "redis-server failed to start; waiting anyway" >&2
    for _ in $(seq 1 30); do
        if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        sleep 1
    done
    fail "Redis is still not reachable on 127.0.0.1:${REDIS_PORT} after 30 s"
}

run_suite() {
    # The crash test runs the `alphery` binary as separate server and worker processes.
    cargo build -p alphery-api --bin alphery
    cargo test -p alphery-tests --test it -- "$@"
}

# Services first, so a missing one fails the run before minutes of compiling and testing.
banner "services"
ensure_postgres
ensure_redis
echo "PostgreSQL and Redis are reachable"

# Real peers the tests start, from PyPI: an SMTP sink (aiosmtpd), an OpenID Connect provider
# of ours that signs ID tokens (RSA from cryptography), TOTP codes computed independently of
# the server's own implementation (pyotp), and an S3-compatible object store for the file
# store's S3 backend (moto's `moto_server`, which needs `moto.server` importable). Each entry is
# `module=package`.
for peer in aiosmtpd=aiosmtpd cryptography=cryptography pyotp=pyotp "moto.server=moto[server]"; do
    module="${peer%%=*}"
    package="${peer#*=}"
    if ! python3 -c "import ${module}" 2>/dev/null; then
        echo "installing ${package} from PyPI"
        python3 -m pip install --quiet "${package}" || fail "could not install ${package} (python3 -m pip install '${package}')"
    fi
    python3 -c "import ${module}" || fail "${module} is not importable"
done
command -v moto_server >/dev/null || fail "moto_server is not on PATH (python3 -m pip install 'moto[server]')"

unit_status=FAILED
sqlite_status=FAILED
postgres_status=FAILED

banner "unit tests (cargo test --workspace --exclude alphery-tests)"
if cargo test --workspace --exclude alphery-tests; then
    unit_status=passed
fi

banner "alphery-tests on SQLite (ALPHERY_TEST_DATABASE_URL unset)"
if (unset ALPHERY_TEST_DATABASE_URL; run_suite "$@"); then
    sqlite_status=passed
fi

banner "alphery-tests on PostgreSQL (${PG_URL})"
if ALPHERY_TEST_DATABASE_URL="$PG_URL" run_suite "$@"; then
    postgres_status=passed
fi

banner "summary: unit tests ${unit_status}, SQLite ${sqlite_status}, PostgreSQL ${postgres_status}"
[[ "$unit_status" == passed && "$sqlite_status" == passed && "$postgres_status" == passed ]]
