#!/usr/bin/env bash
# Measures the admin API on a large database, in one run:
#
#   - creates a fresh database, starts wxid on it (wxid applies the
#     migrations), then loads synthetic users, openids, unionids and
#     sessions straight into the tables with multi-row INSERTs;
#   - prints each table's rows and bytes a row, then, for every admin query
#     shape (pages with and without totalCount, per-app counts, the
#     searches dashboards run, nested `where`, activeSessions, nodes,
#     userStats over 90 days of audit events that wxid's rollup folded), p50
#     and p99 over -samples runs, the SQL statements one run costs, and the
#     answer (a count, or the error code of a refused shape).
#   - exports user segments (POST /admin/export/users, export.go): rows,
#     time, rows/s, statements per 1,000 rows, bytes and wxid's resident
#     memory for everyone (NDJSON and CSV), one app, sparse, contiguous and
#     selective filters, and a resumed export.
#
# Like scripts/test.sh it installs and starts MariaDB when it is missing. It
# removes its database afterwards (-keep keeps it). Arguments go to the scale
# program; the defaults (-users 50000 -sessions 2 -apps 3 -samples 20) run in
# about a minute. The issue's reference size, 1M users, 1.045M openids, 600k
# unionids and 2M sessions, loads in a few minutes and needs ~1.5 GB of disk,
# plus ~1-2 GB for the 90 days of audit events that userStats is measured on
# (about 11.5M rows at -stats-active 0.1; -stats-days 0 leaves them out):
#
#   scripts/scale.sh
#   scripts/scale.sh -users 1000000
#   scripts/scale.sh -users 1000000 -keep                     # prints the database's name
#   scripts/scale.sh -users 1000000 -database wxid_scale_123  # measure it again, no loading
#
# -purge-backlog N measures the purge instead of the admin queries: N
# expired sessions more, then login p50/p99 at a steady rate (WeChat
# stand-in answering after 50 ms) without the purge, while it clears the
# backlog (catch-up time, rows a second) and after, and the p99 ratio; it
# fails above -purge-max-ratio (1.5):
#
#   scripts/scale.sh -users 50000 -purge-backlog 300000
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/services.sh
source scripts/lib/services.sh

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log "building wxid and the scale program"
go build -o "$out/wxid" .
go build -o "$out/scale" ./internal/cmd/scale
log "loading and measuring"
"$out/scale" -wxid "$out/wxid" "$@"
