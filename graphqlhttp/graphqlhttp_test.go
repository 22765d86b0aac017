package graphqlhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/session"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   string
		ok     bool
	}{
		{"", JSON, true},
		{"*/*", JSON, true},
		{"application/*", JSON, true},
		{"application/json", JSON, true},
		{"application/json; charset=utf-8", JSON, true},
		{"application/json; charset=latin1", "", false},
		{"application/graphql-response+json", GraphQLResponseJSON, true},
		{"application/graphql-response+json, application/json;q=0.9", GraphQLResponseJSON, true},
		{"application/json;q=0.9, application/graphql-response+json", GraphQLResponseJSON, true},
		{"application/graphql-response+json;q=0.1, application/json", JSON, true},
		{"text/html", "", false},
		{"text/html, */*;q=0.1", JSON, true},
		{"application/json;q=0", "", false},
		{"application/json;q=abc", "", false},
		{";;;", "", false},
	}
	for _, tc := range tests {
		got, ok := negotiate(tc.accept)
		require.Equal(t, tc.ok, ok, tc.accept)
		require.Equal(t, tc.want, got, tc.accept)
	}
}

func TestStatusOf(t *testing.T) {
	require.Equal(t, http.StatusMethodNotAllowed, StatusOf(&Error{Status: http.StatusMethodNotAllowed, Err: apperr.New(apperr.CodeBadRequest, "x")}))
	require.Equal(t, http.StatusRequestEntityTooLarge, StatusOf(fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 1})))
	require.Equal(t, http.StatusInternalServerError, StatusOf(errors.New("boom")))
	require.Equal(t, http.StatusServiceUnavailable, StatusOf(apperr.Unavailable("down", time.Second, nil)))
	require.Equal(t, http.StatusTooManyRequests, StatusOf(apperr.RateLimited("slow", time.Second)))
	require.Equal(t, http.StatusBadRequest, StatusOf(session.ErrInvalid), "coded by the mapper, not INTERNAL")
}

func TestWriteError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	rec := httptest.NewRecorder()
	WriteError(rec, req, log, &Error{Status: http.StatusMethodNotAllowed, Allow: "POST", Err: apperr.New(apperr.CodeBadRequest, "GET runs queries only")})
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "POST", rec.Header().Get("Allow"))
	require.Equal(t, GraphQLResponseJSON, rec.Header().Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.NotContains(t, body, "data")
	require.JSONEq(t, `[{"message":"GET runs queries only","extensions":{"code":"BAD_REQUEST"}}]`, string(mustJSON(t, body["errors"])))
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestDecode(t *testing.T) {
	var b body
	require.NoError(t, decode(`{"query":"{ a }","variables":{"n":1}}`, &b))
	require.Equal(t, json.Number("1"), b.Variables["n"], "numbers stay json.Number, as gqlgen expects")
	require.Error(t, decode(`{"query":"{ a }"} x`, &b))
	require.Error(t, decode(`{"query":1}`, &b))
	require.Error(t, decode(`[]`, &b))
	_, err := (&body{}).params()
	require.Error(t, err, "no query and no persisted query")
	p, err := (&body{Extensions: map[string]any{"persistedQuery": map[string]any{}}}).params()
	require.NoError(t, err, "a persisted query needs no text")
	require.Empty(t, p.Query)
}
