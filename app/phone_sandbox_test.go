package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/app"
	"github.com/wxid/wxid/config"
	"github.com/wxid/wxid/internal/testenv"
)

// TestPhoneSandbox: with no AppSecret, both phone forms work against the
// in-process stand-in, as a developer tries them after `go run .`.
func TestPhoneSandbox(t *testing.T) {
	env := map[string]string{"WXID_DATABASE_URL": testenv.SQLite(t)}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.True(t, cfg.Sandbox)
	a, err := app.New(context.Background(), cfg, app.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	post := func(path, skey string, in any) map[string]any {
		t.Helper()
		b, err := json.Marshal(in)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if skey != "" {
			req.Header.Set("Authorization", "Bearer "+skey)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Nil(t, out["errors"], "%v", out)
		return out
	}
	gql := func(skey, query string, vars map[string]any) map[string]any {
		t.Helper()
		return post("/graphql", skey, map[string]any{"query": query, "variables": vars})["data"].(map[string]any)
	}

	code := post("/sandbox/wx.login", "", map[string]string{"user": "alice"})["code"]
	skey := gql("", `mutation($c: String!) { login(input: {code: $c}) { skey } }`, map[string]any{"c": code})["login"].(map[string]any)["skey"].(string)

	pc := post("/sandbox/phone", "", map[string]string{"user": "alice", "phoneNumber": "+8613800138000", "form": "code"})
	got := gql(skey, phoneMutation, map[string]any{"code": pc["code"]})["decryptPhoneNumber"].(map[string]any)
	require.Equal(t, "+8613800138000", got["phoneNumber"])

	enc := post("/sandbox/phone", "", map[string]string{"user": "alice", "phoneNumber": "+8613900139000", "form": "encrypted"})
	got = gql(skey, phoneMutation, map[string]any{"encryptedData": enc["encryptedData"], "iv": enc["iv"]})["decryptPhoneNumber"].(map[string]any)
	require.Equal(t, "13900139000", got["purePhoneNumber"])
}
