package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a headless-capable Chromium for browser
// tests: $WXID_TEST_CHROMIUM, else chromium (Debian's package, which
// scripts/test.sh installs), chromium-browser or google-chrome from PATH.
// Without one it skips t (fails it when Required).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WXID_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "no chromium in PATH (apt-get install chromium, or set WXID_TEST_CHROMIUM)")
	return ""
}
