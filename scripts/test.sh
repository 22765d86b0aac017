#!/usr/bin/env bash
# Runs wxid's whole test suite: generated code and formatting checks, go vet,
# the check that migrations/ matches the ent schema, unit and integration
# tests (real MariaDB/MySQL and memcached) with the race detector, the
# GraphQL-over-HTTP audit (graphql-http's serverAudits) and the TypeScript
# client's tests against a live wxid.
#
# It installs and starts what is missing (memcached, MariaDB) when it may
# (root, or sudo without a password). Point it at another MySQL with
# WXID_TEST_MYSQL="user:pass@tcp(host:port)/". Missing services fail the run.
#
#   scripts/test.sh            everything
#   scripts/test.sh -short     skip the generation check, golangci-lint and the
#                              client tests
set -euo pipefail
cd "$(dirname "$0")/.."

short=false
[[ "${1:-}" == "-short" ]] && short=true

# shellcheck source=lib/services.sh
source scripts/lib/services.sh

# --- Chromium: the GraphiQL test drives Debian's chromium (chromedp).
if [[ -z "${WXID_TEST_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  log "installing chromium"
  apt_install chromium
fi
export WXID_TEST_REQUIRE_SERVICES=1

if [[ $short == false ]]; then
  log "checking that generated code is up to date (go generate ./...)"
  go generate ./...
  if [[ -d .git ]]; then
    stale=$(git status --porcelain -- ent graph resolvers schema go.mod go.sum)
    if [[ -n "$stale" ]]; then
      echo "$stale"
      git --no-pager diff --stat -- ent graph resolvers schema
      echo "generated code is stale: run go generate ./... and commit the result" >&2
      exit 1
    fi
  fi
fi

log "checking that the migrations match the ent schema (migrations/)"
go test -count=1 -run 'TestMigrationsMatchTheEntSchema|TestEmbeddedFilesAreTheCommittedFiles|TestBothDialectsHaveTheSameVersions' ./migrations/ || {
  echo "the ent schema and migrations/ disagree: run go run ./internal/cmd/migrategen -name <what_changed> and commit the new files" >&2
  exit 1
}

log "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './clients/*'))
[[ -z "$unformatted" ]] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
go vet ./...

if [[ $short == false ]]; then
  lint="$(go env GOPATH)/bin/golangci-lint"
  if [[ ! -x "$lint" ]] || ! "$lint" version 2>/dev/null | grep -q "version 2.6.0"; then
    log "installing golangci-lint v2.6.0"
    GOFLAGS= go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.6.0
  fi
  log "golangci-lint"
  "$lint" run ./...
fi

log "go test (unit + integration on SQLite, MariaDB/MySQL and memcached)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go test -race -count=1 -json ./... > "$out/go.json" || { go run ./internal/cmd/testsummary -failures < "$out/go.json"; exit 1; }
go run ./internal/cmd/testsummary < "$out/go.json" | tee "$out/go.summary"

log "GraphQL-over-HTTP audit (graphql-http serverAudits) against a live wxid"
(cd internal/httpaudit && npm ci --no-audit --no-fund --loglevel=error && node audit.mjs) | tee "$out/audit.log"
audit_passed=$(sed -n 's/^httpaudit: \([0-9]*\) passed, 0 failed$/\1/p' "$out/audit.log" | tail -1)
[[ -n "$audit_passed" ]] || { echo "the GraphQL-over-HTTP audit failed" >&2; exit 1; }

client_passed=0
if [[ $short == false && -x clients/miniprogram/test.sh ]]; then
  log "TypeScript client tests against a live wxid"
  clients/miniprogram/test.sh | tee "$out/client.log"
  client_passed=$(awk '/^# pass [0-9]+$/ { n += $3 } END { print n + 0 }' "$out/client.log")
fi
go_passed=$(sed -n 's/^go tests: \([0-9]*\) passed.*/\1/p' "$out/go.summary")
log "all tests passed"
echo "tests: $((go_passed + audit_passed + ${client_passed:-0})) passed, 0 failed"
