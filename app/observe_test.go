package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestPanicOutsideGraphQL: a panic outside gqlgen (in a middleware, say)
// still answers JSON with a coded error, and only the log has the detail.
func TestPanicOutsideGraphQL(t *testing.T) {
	var logs bytes.Buffer
	a := &App{Log: slog.New(slog.NewTextHandler(&logs, nil)), Registry: prometheus.NewRegistry()}
	h := a.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	var body struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.Len(t, body.Errors, 1)
	require.Equal(t, "INTERNAL", body.Errors[0].Extensions["code"])
	require.Equal(t, "internal error", body.Errors[0].Message)
	require.NotContains(t, rec.Body.String(), "secret")
	require.NotContains(t, rec.Body.String(), `"data"`)
	require.Contains(t, logs.String(), "boom: secret detail")
	require.Contains(t, logs.String(), "level=ERROR")
}
