// Package testenv gives integration tests real services: a fresh database
// on MySQL/MariaDB, a private memcached process, a SQLite file. Every helper
// cleans up after itself through t.Cleanup.
//
// When a service is unavailable the test is skipped, or fails when Required
// reports true (in CI), so a missing service can never pass silently there.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Required reports whether tests must fail, rather than skip, when a service
// they need is unavailable: true when the environment variable CI is
// non-empty or WXID_TEST_REQUIRE_SERVICES is "1".
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("WXID_TEST_REQUIRE_SERVICES") == "1"
}

// unavailable skips t, or fails it when Required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("testenv: "+format+" (required because CI or WXID_TEST_REQUIRE_SERVICES=1 is set)", args...)
	}
	t.Skipf("testenv: "+format+" (skipping; set WXID_TEST_REQUIRE_SERVICES=1 to fail instead)", args...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: finding a free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SQLite returns a database URL in wxid's form, "sqlite://PATH", naming a
// not yet existing file in a directory removed when the test ends.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "wxid.db")
}

// randomSuffix returns 12 random lowercase hex characters.
func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
