package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
)

// answer is one raw HTTP answer.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (a answer) code() string {
	errs, _ := a.json["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

func send(t *testing.T, e *apptest.Env, method, target string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+target, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.Server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &a.json), "every answer is JSON: %s", raw)
	}
	return a
}

const (
	jsonType   = "application/json; charset=utf-8"
	gqlResType = "application/graphql-response+json; charset=utf-8"
)

// TestGraphQLOverHTTP: status codes and media types per the
// GraphQL-over-HTTP specification (internal/httpaudit runs its audit
// suite; these pin wxid's own choices).
func TestGraphQLOverHTTP(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	post := func(accept, body string) answer {
		h := map[string]string{"Content-Type": "application/json"}
		if accept != "" {
			h["Accept"] = accept
		}
		return send(t, e, http.MethodPost, "/graphql", h, body)
	}
	requestErrors := []struct{ name, body, code string }{
		{"parse", `{"query":"{ me { id "}`, "GRAPHQL_PARSE_FAILED"},
		{"validation", `{"query":"{ nope }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"variables", `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":null}}`, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown operation", `{"query":"query A { me { id } }","operationName":"B"}`, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range requestErrors {
		t.Run(tc.name+" error, application/json: 200", func(t *testing.T) {
			a := post("application/json", tc.body)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Equal(t, jsonType, a.header.Get("Content-Type"))
			require.Equal(t, tc.code, a.code(), a.body)
			require.NotContains(t, a.json, "data", "no data entry on a request error")
		})
		t.Run(tc.name+" error, application/graphql-response+json: 400", func(t *testing.T) {
			a := post("application/graphql-response+json", tc.body)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			require.Equal(t, gqlResType, a.header.Get("Content-Type"))
			require.Equal(t, tc.code, a.code(), a.body)
			require.NotContains(t, a.json, "data")
		})
	}
	t.Run("field errors keep data and answer 200 for both", func(t *testing.T) {
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			a := post(accept, `{"query":"{ me { id } }"}`)
			require.Equal(t, http.StatusOK, a.status)
			require.Equal(t, "UNAUTHENTICATED", a.code())
			require.Contains(t, a.json, "data")
		}
	})
	t.Run("accept negotiation", func(t *testing.T) {
		for accept, want := range map[string]string{
			"":                                  jsonType,
			"*/*":                               jsonType,
			"application/*":                     jsonType,
			"application/json;charset=utf-8":    jsonType,
			"application/graphql-response+json": gqlResType,
			"application/graphql-response+json, application/json;q=0.9": gqlResType,
			"application/json;q=0.5, application/graphql-response+json": gqlResType,
			"text/html, application/json;q=0.1":                         jsonType,
		} {
			a := post(accept, `{"query":"{ __typename }"}`)
			require.Equal(t, http.StatusOK, a.status, accept)
			require.Equal(t, want, a.header.Get("Content-Type"), accept)
		}
		a := post("text/html", `{"query":"{ __typename }"}`)
		require.Equal(t, http.StatusNotAcceptable, a.status)
		require.Equal(t, jsonType, a.header.Get("Content-Type"))
		require.Equal(t, "BAD_REQUEST", a.code())
	})
	t.Run("mutation over GET: 405, Allow: POST", func(t *testing.T) {
		a := send(t, e, http.MethodGet, "/graphql?query="+url.QueryEscape("mutation { logout }"), nil, "")
		require.Equal(t, http.StatusMethodNotAllowed, a.status)
		require.Equal(t, "POST", a.header.Get("Allow"))
		require.Equal(t, "BAD_REQUEST", a.code())
		require.NotContains(t, a.json, "data")
	})
	t.Run("GET variables and extensions must be JSON objects", func(t *testing.T) {
		a := send(t, e, http.MethodGet, "/graphql?query="+url.QueryEscape("{ __typename }")+"&variables=%5B1%5D", nil, "")
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "BAD_REQUEST", a.code())
	})
	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name, method, target, contentType, body string
			status                                  int
			code, allow                             string
		}{
			{"no content type", http.MethodPost, "/graphql", "", `{"query":"{ __typename }"}`, http.StatusUnsupportedMediaType, "BAD_REQUEST", ""},
			{"latin-1 body", http.MethodPost, "/graphql", "application/json; charset=iso-8859-1", `{"query":"{ __typename }"}`, http.StatusUnsupportedMediaType, "BAD_REQUEST", ""},
			{"query is a number", http.MethodPost, "/graphql", "application/json", `{"query":7}`, http.StatusBadRequest, "BAD_REQUEST", ""},
			{"no query", http.MethodPost, "/graphql", "application/json", `{}`, http.StatusBadRequest, "BAD_REQUEST", ""},
			{"trailing data", http.MethodPost, "/graphql", "application/json", `{"query":"{ __typename }"} {}`, http.StatusBadRequest, "BAD_REQUEST", ""},
			{"PUT", http.MethodPut, "/graphql", "application/json", `{}`, http.StatusMethodNotAllowed, "BAD_REQUEST", "GET, POST, OPTIONS"},
			{"DELETE", http.MethodDelete, "/graphql", "", "", http.StatusMethodNotAllowed, "BAD_REQUEST", "GET, POST, OPTIONS"},
			{"unknown path", http.MethodGet, "/graphql/x", "", "", http.StatusNotFound, "NOT_FOUND", ""},
			{"unknown path, POST", http.MethodPost, "/nope", "application/json", `{}`, http.StatusNotFound, "NOT_FOUND", ""},
			{"POST /healthz", http.MethodPost, "/healthz", "application/json", `{}`, http.StatusMethodNotAllowed, "BAD_REQUEST", "GET, HEAD"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				h := map[string]string{}
				if tc.contentType != "" {
					h["Content-Type"] = tc.contentType
				}
				a := send(t, e, tc.method, tc.target, h, tc.body)
				require.Equal(t, tc.status, a.status, a.body)
				require.Equal(t, jsonType, a.header.Get("Content-Type"))
				require.Equal(t, tc.code, a.code(), a.body)
				require.Equal(t, tc.allow, a.header.Get("Allow"))
				require.NotContains(t, a.json, "data")
			})
		}
	})
	t.Run("OPTIONS without CORS", func(t *testing.T) {
		a := send(t, e, http.MethodOptions, "/graphql", nil, "")
		require.Equal(t, http.StatusNoContent, a.status)
		require.Equal(t, "GET, POST, OPTIONS", a.header.Get("Allow"))
		require.Empty(t, a.header.Get("Access-Control-Allow-Origin"))
	})
}

// TestPersistedQueries: automatic persisted queries answer coded errors,
// logged at debug, never INTERNAL.
func TestPersistedQueries(t *testing.T) {
	e := apptest.New(t, apptest.Options{Env: map[string]string{"WXID_LOG_LEVEL": "debug"}})
	query := "{ __typename }"
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	post := func(body string) answer {
		return send(t, e, http.MethodPost, "/graphql", map[string]string{"Content-Type": "application/json"}, body)
	}
	pq := func(ext string) string { return `{"extensions":{"persistedQuery":` + ext + `}}` }

	a := post(pq(`{"version":1,"sha256Hash":"` + hash + `"}`))
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", a.code(), a.body)
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `"message":"PersistedQueryNotFound"`, "what Apollo's and urql's links look for")

	a = post(`{"query":"{ me { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`)
	require.Equal(t, "PERSISTED_QUERY_MISMATCH", a.code(), a.body)

	a = post(`{"query":"` + query + `","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`)
	require.Empty(t, a.code(), a.body)
	a = post(pq(`{"version":1,"sha256Hash":"` + strings.ToUpper(hash) + `"}`))
	require.Empty(t, a.code(), a.body)
	require.Equal(t, map[string]any{"__typename": "Query"}, a.json["data"])

	a = send(t, e, http.MethodGet, "/graphql?extensions="+url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"`+hash+`"}}`), nil, "")
	require.Equal(t, map[string]any{"__typename": "Query"}, a.json["data"], a.body)

	for name, ext := range map[string]string{
		"version 2":      `{"version":2,"sha256Hash":"` + hash + `"}`,
		"no version":     `{"sha256Hash":"` + hash + `"}`,
		"version string": `{"version":"1","sha256Hash":"` + hash + `"}`,
		"short hash":     `{"version":1,"sha256Hash":"abc"}`,
		"hash not hex":   `{"version":1,"sha256Hash":"` + strings.Repeat("z", 64) + `"}`,
		"hash a number":  `{"version":1,"sha256Hash":7}`,
		"not an object":  `"yes"`,
	} {
		a := post(pq(ext))
		require.Equal(t, "BAD_REQUEST", a.code(), "%s: %s", name, a.body)
		require.Equal(t, http.StatusOK, a.status, name)
	}
	logs := e.Logs.String()
	require.NotContains(t, logs, "level=ERROR")
	require.NotContains(t, logs, "INTERNAL")
	require.Contains(t, logs, "PERSISTED_QUERY_NOT_FOUND")
}

// TestCORS: exact origins from WXID_CORS_ORIGINS, nothing for others.
func TestCORS(t *testing.T) {
	const dashboard = "https://admin.example.com"
	e := apptest.New(t, apptest.Options{Env: map[string]string{"WXID_CORS_ORIGINS": dashboard + ",http://localhost:5173"}})
	preflight := func(origin string) answer {
		return send(t, e, http.MethodOptions, "/graphql", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type",
		}, "")
	}
	t.Run("preflight from a listed origin", func(t *testing.T) {
		a := preflight(dashboard)
		require.Equal(t, http.StatusNoContent, a.status)
		require.Equal(t, dashboard, a.header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, a.header.Get("Access-Control-Allow-Methods"), "POST")
		allowed := strings.ToLower(a.header.Get("Access-Control-Allow-Headers"))
		require.Contains(t, allowed, "authorization")
		require.Contains(t, allowed, "content-type")
		require.Equal(t, "600", a.header.Get("Access-Control-Max-Age"))
		require.Contains(t, a.header.Values("Vary"), "Origin")
		require.Empty(t, a.header.Get("Access-Control-Allow-Credentials"), "bearer tokens, no cookies")
	})
	for _, origin := range []string{"https://evil.example.com", "https://admin.example.com.evil.com", "http://admin.example.com", "null"} {
		t.Run("preflight from "+origin, func(t *testing.T) {
			a := preflight(origin)
			require.Equal(t, http.StatusForbidden, a.status)
			require.Equal(t, "FORBIDDEN", a.code())
			require.Empty(t, a.header.Get("Access-Control-Allow-Origin"))
			require.Empty(t, a.header.Get("Access-Control-Allow-Methods"))
		})
	}
	t.Run("simple request from a listed origin", func(t *testing.T) {
		a := send(t, e, http.MethodPost, "/graphql", map[string]string{
			"Origin": dashboard, "Content-Type": "application/json", "Authorization": "Bearer " + apptest.AdminToken,
		}, `{"query":"{ __typename }"}`)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, dashboard, a.header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, a.header.Values("Vary"), "Origin")
		require.Contains(t, a.header.Get("Access-Control-Expose-Headers"), "X-Request-Id")
	})
	t.Run("simple request from another origin runs without CORS headers", func(t *testing.T) {
		a := send(t, e, http.MethodPost, "/graphql", map[string]string{
			"Origin": "https://evil.example.com", "Content-Type": "application/json",
		}, `{"query":"{ __typename }"}`)
		require.Equal(t, http.StatusOK, a.status)
		require.Empty(t, a.header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, a.header.Values("Vary"), "Origin")
	})
	t.Run("refusals carry CORS headers too, so the page can read the code", func(t *testing.T) {
		a := send(t, e, http.MethodPost, "/graphql", map[string]string{"Origin": dashboard, "Content-Type": "text/plain"}, "{}")
		require.Equal(t, http.StatusUnsupportedMediaType, a.status)
		require.Equal(t, dashboard, a.header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("no origins configured: no CORS headers at all", func(t *testing.T) {
		plain := apptest.New(t, apptest.Options{})
		a := send(t, plain, http.MethodOptions, "/graphql", map[string]string{"Origin": dashboard, "Access-Control-Request-Method": "POST"}, "")
		require.Empty(t, a.header.Get("Access-Control-Allow-Origin"))
	})
}
