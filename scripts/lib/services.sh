# Sourced by scripts/test.sh and scripts/bench.sh: installs and starts the
# services wxid's tests and benchmarks use, when they are missing and it may
# (root, or sudo without a password).
#
# After it, memcached is installed (tests start private memcached processes
# from its binary), a MariaDB/MySQL server answers, and WXID_TEST_MYSQL names
# it when it is not root@127.0.0.1:3306 with an empty password.

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

# --- memcached.
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
      GRANT ALL ON \`wxid\_test\_%\`.* TO 'wxid_test'@'127.0.0.1';
      GRANT ALL ON \`wxid\_bench\_%\`.* TO 'wxid_test'@'127.0.0.1';" || true
    export WXID_TEST_MYSQL='wxid_test:wxid_test@tcp(127.0.0.1:3306)/'
  fi
  mysql_ok || { echo "MariaDB/MySQL is not reachable; set WXID_TEST_MYSQL" >&2; exit 1; }
fi
