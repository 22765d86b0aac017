#!/usr/bin/env bash
# Runs wxid's whole test suite: generated code and formatting checks, go vet,
# unit and integration tests (real MariaDB/MySQL and memcached) with the race
# detector, and the TypeScript client's tests against a live wxid.
#
# It installs and starts what is missing (memcached, MariaDB) when it may
# (root, or sudo without a password). Point it at another MySQL with
# WXID_TEST_MYSQL="user:pass@tcp(host:port)/". Missing services fail the run.
#
#   scripts/test.sh            everything
#   scripts/test.sh -short     skip the generation check and the client tests
set -euo pipefail
cd "$(dirname "$0")/.."

short=false
[[ "${1:-}" == "-short" ]] && short=true

log() { printf '\n==> %s\n' "$*" >&2; }
as_root() {
  if [[ $(id -u) == 0 ]]; then "$@";
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@";
  else echo "need root (or passwordless sudo) to run: $*" >&2; return 1; fi
}
apt_updated=false
apt_install() {
  command -v apt-get >/dev/null || { echo "cannot install $* (no apt-get): install it yourself" >&2; return 1; }
  if [[ $apt_updated == false ]]; then as_root apt-get update -qq; apt_updated=true; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- memcached: the tests start private memcached processes from this binary.
if ! command -v memcached >/dev/null && [[ ! -x /usr/bin/memcached ]]; then
  log "installing memcached"
  apt_install memcached
fi

# --- MariaDB/MySQL: each test creates and drops its own database.
mysql_ok() {
  local dsn=${WXID_TEST_MYSQL:-root:@tcp(127.0.0.1:3306)/}
  go run ./internal/cmd/mysqlping "$dsn" >/dev/null 2>&1
}
if ! mysql_ok; then
  if [[ -n "${WXID_TEST_MYSQL:-}" ]]; then
    echo "WXID_TEST_MYSQL=$WXID_TEST_MYSQL is not reachable" >&2; exit 1
  fi
  if ! command -v mariadbd >/dev/null && [[ ! -x /usr/sbin/mariadbd ]]; then
    log "installing MariaDB"
    apt_install mariadb-server
  fi
  log "starting MariaDB"
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do mysql_ok && break; sleep 0.5; done
  if ! mysql_ok; then
    # A fresh Debian MariaDB lets root in only through its socket: make a
    # test user that can log in over TCP.
    log "creating the wxid_test MariaDB user"
    as_root mariadb -e "CREATE USER IF NOT EXISTS 'wxid_test'@'127.0.0.1' IDENTIFIED BY 'wxid_test';
      GRANT ALL ON \`wxid\_test\_%\`.* TO 'wxid_test'@'127.0.0.1';" || true
    export WXID_TEST_MYSQL='wxid_test:wxid_test@tcp(127.0.0.1:3306)/'
  fi
  mysql_ok || { echo "MariaDB/MySQL is not reachable; set WXID_TEST_MYSQL" >&2; exit 1; }
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

client_passed=0
if [[ $short == false && -x clients/miniprogram/test.sh ]]; then
  log "TypeScript client tests against a live wxid"
  clients/miniprogram/test.sh | tee "$out/client.log"
  client_passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out/client.log" | tail -1)
fi
go_passed=$(sed -n 's/^go tests: \([0-9]*\) passed.*/\1/p' "$out/go.summary")
log "all tests passed"
echo "tests: $((go_passed + ${client_passed:-0})) passed, 0 failed"
