package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/session"
)

type fakeSessions map[string]session.Info

func (f fakeSessions) Resolve(_ context.Context, skey string) (session.Info, error) {
	if skey == "broken-store" {
		return session.Info{}, context.DeadlineExceeded
	}
	info, ok := f[skey]
	if !ok {
		return session.Info{}, session.ErrInvalid
	}
	return info, nil
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"abc", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			token, ok := bearer(tc.header)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.token, token)
		})
	}
}

func TestAdminTokens(t *testing.T) {
	a := NewAdminTokens([]string{"first-admin-token-000", "second-admin-token-00"})
	require.True(t, a.Match("first-admin-token-000"))
	require.True(t, a.Match("second-admin-token-00"))
	require.False(t, a.Match("first-admin-token-00"))
	require.False(t, a.Match(""))
	require.False(t, NewAdminTokens(nil).Match("first-admin-token-000"))
	var none *AdminTokens
	require.False(t, none.Match("x"))
}

func TestMiddleware(t *testing.T) {
	sessions := fakeSessions{"good": {ID: 1, UserID: 7}}
	admins := NewAdminTokens([]string{"admin-token-0123456789"})
	tests := []struct {
		name    string
		header  string
		userErr error // nil = a user; errmap maps each to its code (errmap's tests)
		admin   bool
	}{
		{name: "anonymous", userErr: ErrNoSkey},
		{name: "user", header: "Bearer good"},
		{name: "dead skey", header: "Bearer dead", userErr: session.ErrInvalid},
		{name: "store failure", header: "Bearer broken-store", userErr: context.DeadlineExceeded},
		{name: "admin", header: "Bearer admin-token-0123456789", userErr: ErrNoSkey, admin: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *Viewer
			h := Middleware(sessions, admins, nil)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = ViewerFromContext(r.Context())
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader("{}"))
			req.Header.Set("User-Agent", "wx-test")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			require.NotNil(t, got)
			require.Equal(t, "wx-test", got.Meta.UserAgent)
			require.Equal(t, "192.0.2.1", got.Meta.IP)
			require.Equal(t, tc.admin, got.Admin)
			if tc.admin {
				require.NoError(t, got.RequireAdmin())
				require.Empty(t, got.Skey(), "an admin token is never treated as an skey")
			} else {
				require.ErrorIs(t, got.RequireAdmin(), ErrNotAdmin)
			}
			info, err := got.User()
			if tc.userErr == nil {
				require.NoError(t, err)
				require.Equal(t, 7, info.UserID)
			} else {
				require.ErrorIs(t, err, tc.userErr)
				if tc.userErr != session.ErrInvalid {
					require.NotErrorIs(t, err, session.ErrInvalid, "a store failure is no dead skey")
				}
			}
		})
	}
	require.False(t, ViewerFromContext(context.Background()).Admin, "no middleware: anonymous")
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxies: the peer", peer: "203.0.113.7:4711", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "untrusted peer: its header is ignored", peer: "203.0.113.7:4711", xff: []string{"198.51.100.1"}, trusted: trusted, want: "203.0.113.7"},
		{name: "trusted peer without header", peer: "10.1.2.3:80", trusted: trusted, want: "10.1.2.3"},
		{name: "trusted peer: the right-most entry", peer: "10.1.2.3:80", xff: []string{"198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
		{name: "a forged left part is not believed", peer: "10.1.2.3:80", xff: []string{"1.2.3.4, 198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
		{name: "chained proxies are skipped", peer: "10.1.2.3:80", xff: []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "several header lines", peer: "10.1.2.3:80", xff: []string{"1.2.3.4", "198.51.100.1, 10.9.9.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "every hop trusted: the left-most", peer: "10.1.2.3:80", xff: []string{"10.0.0.5, 10.9.9.9"}, trusted: trusted, want: "10.0.0.5"},
		{name: "garbage stops at the last believed hop", peer: "10.1.2.3:80", xff: []string{"198.51.100.1, not-an-ip, 10.9.9.9"}, trusted: trusted, want: "10.9.9.9"},
		{name: "ports and IPv6", peer: "[fd00::1]:80", xff: []string{"[2001:db8::7]:4711"}, trusted: trusted, want: "2001:db8::7"},
		{name: "IPv4 with port", peer: "10.1.2.3:80", xff: []string{"198.51.100.1:4711"}, trusted: trusted, want: "198.51.100.1"},
		{name: "IPv4-mapped peer", peer: "[::ffff:10.1.2.3]:80", xff: []string{"198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			require.Equal(t, tc.want, ClientIP(r, tc.trusted))
		})
	}
}

func TestAdminTokenLabels(t *testing.T) {
	for _, tc := range []struct{ entry, label, token string }{
		{"ops=first-admin-token-000", "ops", "first-admin-token-000"},
		{"first-admin-token-000", "", "first-admin-token-000"},
		{"bm90LWEtbGFiZWwtYnV0LWEtYmFzZTY0LXRva2VuIQ==", "", "bm90LWEtbGFiZWwtYnV0LWEtYmFzZTY0LXRva2VuIQ=="},
		{"ops=short", "", "ops=short"},
		{"bad label=first-admin-token-000", "", "bad label=first-admin-token-000"},
	} {
		label, token := SplitAdminToken(tc.entry)
		require.Equal(t, tc.label, label, tc.entry)
		require.Equal(t, tc.token, token, tc.entry)
	}
	a := NewAdminTokens([]string{"first-admin-token-000", "support=second-admin-token-00"})
	label, ok := a.Label("first-admin-token-000")
	require.True(t, ok)
	require.Equal(t, "token-1", label)
	label, ok = a.Label("second-admin-token-00")
	require.True(t, ok)
	require.Equal(t, "support", label)
	_, ok = a.Label("support=second-admin-token-00")
	require.False(t, ok, "the label is not part of the token")
}
