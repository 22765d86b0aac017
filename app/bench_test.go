package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/users"
)

// benchEnvs are the deployments the benchmarks measure.
var benchEnvs = []struct {
	name string
	opts apptest.Options
}{
	{"sqlite+memory", apptest.Options{Backend: apptest.SQLite}},
	{"mysql+memcached", apptest.Options{Backend: apptest.MySQL, Memcached: true}},
}

// serve runs one GraphQL request through the full handler (auth
// middleware, gqlgen, resolvers, stores) without a network hop.
func serve(b *testing.B, h http.Handler, skey, body string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if skey != "" {
		req.Header.Set("Authorization", "Bearer "+skey)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
		b.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
}

// BenchmarkMe measures the hot path: two cache gets (the session, the
// user's view) and no SQL.
func BenchmarkMe(b *testing.B) {
	for _, env := range benchEnvs {
		b.Run(env.name, func(b *testing.B) {
			e := apptest.New(b, env.opts)
			l := e.Login(b, "", "bench")
			id, err := strconv.Atoi(l.User.ID)
			if err != nil {
				b.Fatal(err)
			}
			// The login's tombstone expires: the first me caches the view.
			if err := e.App.Cache.Delete(context.Background(), users.ViewKey(id)); err != nil {
				b.Fatal(err)
			}
			h := e.App.Handler()
			body := `{"query":"{ me { id phoneNumber lastLoginAt } }"}`
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					serve(b, h, l.Skey, body)
				}
			})
		})
	}
}

// BenchmarkLogin measures a returning user's login: the WeChat stand-in
// over loopback HTTP, the binding transaction and a new session.
func BenchmarkLogin(b *testing.B) {
	for _, env := range benchEnvs {
		b.Run(env.name, func(b *testing.B) {
			opts := env.opts
			// The per-address limit would refuse a benchmark's thousands of
			// logins from one address: it is measured by its own tests.
			opts.Env = map[string]string{"WXID_LOGIN_RATE_LIMIT": "0"}
			e := apptest.New(b, opts)
			h := e.App.Handler()
			users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%400 == 399 {
					e.Clock.Advance(time.Minute) // WeChat allows ~100 logins per user per minute
				}
				code := e.Code(b, apptest.AppID, users[i%len(users)])
				serve(b, h, "", `{"query":"mutation($c:String!){login(input:{code:$c}){skey isNewUser}}","variables":{"c":"`+code+`"}}`)
			}
		})
	}
}
