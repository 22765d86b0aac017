#!/usr/bin/env bash
# Measures wxid's hot paths against a hand-written floor, in one run:
#
#   - `me { id unionId phoneNumber }` on wxid and on the floor (a plain
#     net/http handler doing one memcached get and one primary-key select on
#     the same data), alternated, at 64 connections: throughput, p50, p99 and
#     the ratio wxid/floor (medians of several rounds);
#   - `login` of returning users against the WeChat stand-in answering after
#     an added latency, at 64 and 256 connections: logins per second against
#     the bound connections ÷ latency (medians of several rounds), and the
#     CPU that wxid, the database server (when it runs on this machine),
#     memcached and the bench itself spent per login, read from /proc;
#   - the SQL statements each operation costs, as the server counts them.
#
# Like scripts/test.sh it installs and starts memcached and MariaDB when they
# are missing. It creates its own database and memcached process and removes
# them afterwards. Arguments go to the bench program; the defaults are
#   -duration 5s -rounds 3 -me-conns 64 -login-conns 64,256 -latency 50ms -users 1000
#
#   scripts/bench.sh
#   scripts/bench.sh -duration 10s -rounds 5
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/services.sh
source scripts/lib/services.sh

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log "building wxid and the bench"
go build -o "$out/wxid" .
go build -o "$out/bench" ./internal/cmd/bench
log "running (takes a few minutes)"
"$out/bench" -wxid "$out/wxid" "$@"
