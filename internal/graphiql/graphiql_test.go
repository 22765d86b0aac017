package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAssetsMatchSHA256SUMS: the embedded files are exactly what
// scripts/graphiql-assets.sh fetched and verified.
func TestAssetsMatchSHA256SUMS(t *testing.T) {
	sums, err := assets.ReadFile("assets/SHA256SUMS")
	require.NoError(t, err)
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		require.True(t, ok, line)
		want[name] = sum
	}
	require.ElementsMatch(t, Files(), keys(want))
	total := 0
	for name, sum := range want {
		gz, err := assets.ReadFile("assets/" + name + ".gz")
		require.NoError(t, err)
		total += len(gz)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		got := sha256.Sum256(plain)
		require.Equal(t, sum, hex.EncodeToString(got[:]), name)
	}
	require.Less(t, total, 1<<20, "the embedded assets stay under 1 MiB")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPage(t *testing.T) {
	rec := httptest.NewRecorder()
	Page("wxid", "/graphql").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, CSP, rec.Header().Get("Content-Security-Policy"))
	body := rec.Body.String()
	require.Contains(t, body, `data-endpoint="/graphql"`)
	// Every script and stylesheet is wxid's own: no other host.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1)
	require.Len(t, refs, 6)
	for _, ref := range refs {
		require.True(t, strings.HasPrefix(ref[1], AssetPrefix), ref[1])
	}
	require.NotContains(t, body, "<script>", "no inline script")
}

func TestAssets(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Assets(notFound)
	get := func(path, acceptEncoding string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	gz := get(AssetPrefix+"graphiql.min.js", "gzip, deflate, br")
	require.Equal(t, http.StatusOK, gz.Code)
	require.Equal(t, "gzip", gz.Header().Get("Content-Encoding"))
	require.Equal(t, "text/javascript; charset=utf-8", gz.Header().Get("Content-Type"))

	plain := get(AssetPrefix+"graphiql.min.js", "")
	require.Empty(t, plain.Header().Get("Content-Encoding"))
	zr, err := gzip.NewReader(gz.Body)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, unzipped, plain.Body.Bytes())
	require.Contains(t, plain.Body.String(), "GraphiQL")

	require.Empty(t, get(AssetPrefix+"graphiql.min.css", "gzip;q=0").Header().Get("Content-Encoding"))
	require.Equal(t, "text/css; charset=utf-8", get(AssetPrefix+"graphiql.min.css", "").Header().Get("Content-Type"))
	require.Contains(t, get(AssetPrefix+"init.js", "").Body.String(), "createFetcher")
	for _, bad := range []string{"nope.js", "SHA256SUMS", "../assets/graphiql.min.js", "assets/graphiql.min.js", ""} {
		require.Equal(t, http.StatusTeapot, get(AssetPrefix+bad, "").Code, bad)
	}
}
