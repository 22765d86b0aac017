package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
)

// TestTransportErrors: what gqlgen's transports refuse on their own still
// carries an extensions.code, and nothing is a 500.
func TestTransportErrors(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	big := `{"query":"{ me { id } }","extensions":{"x":"` + strings.Repeat("a", 70_000) + `"}}`
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        io.Reader
		chunked     bool
		status      int
		code        string
	}{
		{name: "mutation over GET", method: http.MethodGet, target: "/graphql?query=" + url.QueryEscape("mutation { logout }"), status: http.StatusMethodNotAllowed, code: "BAD_REQUEST"},
		{name: "query over GET", method: http.MethodGet, target: "/graphql?query=" + url.QueryEscape("{ me { id } }"), status: http.StatusOK, code: "UNAUTHENTICATED"},
		{name: "unsupported content type", method: http.MethodPost, target: "/graphql", contentType: "text/plain", body: strings.NewReader("{ me { id } }"), status: http.StatusUnsupportedMediaType, code: "BAD_REQUEST"},
		{name: "form post (CSRF)", method: http.MethodPost, target: "/graphql", contentType: "application/x-www-form-urlencoded", body: strings.NewReader("query=mutation%7Blogout%7D"), status: http.StatusUnsupportedMediaType, code: "BAD_REQUEST"},
		{name: "not json", method: http.MethodPost, target: "/graphql", contentType: "application/json", body: strings.NewReader("{nope"), status: http.StatusBadRequest, code: "BAD_REQUEST"},
		{name: "body too large", method: http.MethodPost, target: "/graphql", contentType: "application/json", body: strings.NewReader(big), status: http.StatusRequestEntityTooLarge, code: "BAD_USER_INPUT"},
		{name: "chunked body too large", method: http.MethodPost, target: "/graphql", contentType: "application/json", body: strings.NewReader(big), chunked: true, code: "BAD_USER_INPUT"},
		{name: "parse error", method: http.MethodPost, target: "/graphql", contentType: "application/json", body: strings.NewReader(`{"query":"{ me { id "}`), status: http.StatusOK, code: "GRAPHQL_PARSE_FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.chunked {
				body = io.MultiReader(tc.body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(tc.method, e.Server.URL+tc.target, body)
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := e.Server.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if tc.status != 0 {
				require.Equal(t, tc.status, resp.StatusCode, string(raw))
			}
			require.Less(t, resp.StatusCode, 500, string(raw))
			require.Contains(t, string(raw), `"code":"`+tc.code+`"`)
		})
	}
}
