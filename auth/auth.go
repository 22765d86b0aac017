// Package auth identifies the caller of a request: the HTTP middleware reads
// `Authorization: Bearer <token>`, resolves an admin token or an skey, and
// stores the Viewer in the request context, where resolvers read it with
// ViewerFromContext.
//
// The middleware never rejects a request: a missing or dead skey makes an
// anonymous viewer, so that login works whatever stale token a client
// sends, and each field decides whether it needs a user (UNAUTHENTICATED)
// or an admin (FORBIDDEN).
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/session"
)

// Resolver resolves skeys; *session.Manager implements it.
type Resolver interface {
	Resolve(ctx context.Context, skey string) (session.Info, error)
}

// Viewer is the caller of one request.
type Viewer struct {
	// Session is the caller's session; nil for anonymous and admin callers.
	Session *session.Info
	// Admin is true for a caller with an admin token.
	Admin bool
	// Meta describes the client.
	Meta session.ClientMeta

	skey string
	err  error // why a presented skey did not resolve
}

// Skey returns the caller's skey, for the resolvers that rotate or revoke
// it. Never log it.
func (v *Viewer) Skey() string { return v.skey }

// User returns the caller's session or an UNAUTHENTICATED error (INTERNAL
// when the session store failed).
func (v *Viewer) User() (*session.Info, error) {
	if v.Session != nil {
		return v.Session, nil
	}
	if v.err != nil && !errors.Is(v.err, session.ErrInvalid) {
		return nil, apperr.Internal(v.err)
	}
	if v.skey == "" {
		return nil, apperr.Unauthenticated("missing skey: send Authorization: Bearer <skey> from login")
	}
	return nil, apperr.Unauthenticated("the skey is invalid, expired or revoked: call wx.login() and login again")
}

// RequireAdmin returns FORBIDDEN unless the caller has an admin token.
func (v *Viewer) RequireAdmin() error {
	if v.Admin {
		return nil
	}
	return apperr.Forbidden("this field needs an admin token")
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFromContext returns the caller; an anonymous Viewer when the
// middleware did not run.
func ViewerFromContext(ctx context.Context) *Viewer {
	if v, ok := ctx.Value(viewerKey{}).(*Viewer); ok {
		return v
	}
	return &Viewer{}
}

// AdminTokens holds the admin bearer tokens as SHA-256 digests and compares
// in constant time.
type AdminTokens struct {
	digests [][sha256.Size]byte
}

// NewAdminTokens returns the set of admin tokens.
func NewAdminTokens(tokens []string) *AdminTokens {
	a := &AdminTokens{}
	for _, t := range tokens {
		a.digests = append(a.digests, sha256.Sum256([]byte(t)))
	}
	return a
}

// Match reports whether token is an admin token, comparing against every
// token in constant time.
func (a *AdminTokens) Match(token string) bool {
	if a == nil || token == "" {
		return false
	}
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.digests {
		match |= subtle.ConstantTimeCompare(d[:], a.digests[i][:])
	}
	return match == 1
}

// Middleware resolves the caller of every request and stores the Viewer in
// its context.
func Middleware(sessions Resolver, admins *AdminTokens) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := &Viewer{Meta: session.ClientMeta{IP: clientIP(r), UserAgent: r.UserAgent()}}
			if token, ok := bearer(r.Header.Get("Authorization")); ok {
				switch {
				case admins.Match(token):
					v.Admin = true
				default:
					v.skey = token
					info, err := sessions.Resolve(r.Context(), token)
					if err != nil {
						v.err = err
					} else {
						v.Session = &info
					}
				}
			}
			next.ServeHTTP(w, r.WithContext(WithViewer(r.Context(), v)))
		})
	}
}

// bearer extracts the token of an `Authorization: Bearer <token>` header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
