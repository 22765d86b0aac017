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
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/wxid/wxid/audit"
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
	// AdminLabel names the admin token (its label in WXID_ADMIN_TOKENS, or
	// its position); "" unless Admin.
	AdminLabel string
	// Meta describes the client.
	Meta session.ClientMeta

	skey string
	err  error // why a presented skey did not resolve
}

// Skey returns the caller's skey, for the resolvers that rotate or revoke
// it. Never log it.
func (v *Viewer) Skey() string { return v.skey }

// Errors of a caller without the right credentials. The error mapper
// (errmap) gives them their codes: UNAUTHENTICATED and FORBIDDEN.
var (
	// ErrNoSkey: the request carries no skey.
	ErrNoSkey = errors.New("auth: missing skey")
	// ErrNotAdmin: the field needs an admin token.
	ErrNotAdmin = errors.New("auth: admin token required")
)

// User returns the caller's session, or why there is none: ErrNoSkey,
// session.ErrInvalid for a dead skey, or the session store's failure.
func (v *Viewer) User() (*session.Info, error) {
	switch {
	case v.Session != nil:
		return v.Session, nil
	case v.err != nil && !errors.Is(v.err, session.ErrInvalid):
		return nil, fmt.Errorf("resolving the skey: %w", v.err)
	case v.skey == "":
		return nil, ErrNoSkey
	default:
		return nil, session.ErrInvalid
	}
}

// actor names the caller in the audit trail: the admin token's label, the
// session's user, or "" for an anonymous caller.
func (v *Viewer) actor() string {
	switch {
	case v.Admin:
		return audit.AdminActor(v.AdminLabel)
	case v.Session != nil:
		return audit.UserActor(v.Session.UserID)
	}
	return ""
}

// RequireAdmin returns ErrNotAdmin unless the caller has an admin token.
func (v *Viewer) RequireAdmin() error {
	if v.Admin {
		return nil
	}
	return ErrNotAdmin
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

// AdminTokens holds the admin bearer tokens as SHA-256 digests, with
// their labels, and compares in constant time.
type AdminTokens struct {
	digests [][sha256.Size]byte
	labels  []string
}

// NewAdminTokens returns the set of admin tokens. Each entry is a token or
// label=token (see SplitAdminToken); an unlabelled token is labelled by its
// position, "token-1" for the first entry.
func NewAdminTokens(entries []string) *AdminTokens {
	a := &AdminTokens{}
	for i, e := range entries {
		label, token := SplitAdminToken(e)
		if label == "" {
			label = "token-" + strconv.Itoa(i+1)
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(token)))
		a.labels = append(a.labels, label)
	}
	return a
}

// adminLabel matches a label of WXID_ADMIN_TOKENS.
var adminLabel = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)

// SplitAdminToken splits an entry of WXID_ADMIN_TOKENS into its label and
// token: "label=token" when the part before the first "=" is a label (1 to
// 40 letters, digits, "_", "." or "-") and the rest is 16 characters or
// more; otherwise the whole entry is the token and the label is "" (so a
// base64 token ending in "=" stays one token).
func SplitAdminToken(entry string) (label, token string) {
	if l, t, ok := strings.Cut(entry, "="); ok && adminLabel.MatchString(l) && len(t) >= 16 {
		return l, t
	}
	return "", entry
}

// Match reports whether token is an admin token, comparing against every
// token in constant time.
func (a *AdminTokens) Match(token string) bool {
	_, ok := a.Label(token)
	return ok
}

// Label returns the label of the admin token token, comparing against
// every token in constant time; ok is false when it is no admin token.
func (a *AdminTokens) Label(token string) (label string, ok bool) {
	if a == nil || token == "" {
		return "", false
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.digests {
		eq := subtle.ConstantTimeCompare(d[:], a.digests[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return "", false
	}
	return a.labels[found], true
}

// Middleware resolves the caller of every request and stores the Viewer in
// its context. The client's address is ClientIP's, believing
// X-Forwarded-For only from trustedProxies.
func Middleware(sessions Resolver, admins *AdminTokens, trustedProxies []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := &Viewer{Meta: session.ClientMeta{IP: ClientIP(r, trustedProxies), UserAgent: r.UserAgent()}}
			if token, ok := bearer(r.Header.Get("Authorization")); ok {
				if label, ok := admins.Label(token); ok {
					v.Admin, v.AdminLabel = true, label
				} else {
					v.skey = token
					info, err := sessions.Resolve(r.Context(), token)
					if err != nil {
						v.err = err
					} else {
						v.Session = &info
					}
				}
			}
			ctx := WithViewer(r.Context(), v)
			ctx = audit.WithOrigin(ctx, audit.Origin{Actor: v.actor(), ClientIP: v.Meta.IP})
			next.ServeHTTP(w, r.WithContext(ctx))
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

// ClientIP returns the address of the client that sent r. It is the TCP
// peer, unless the peer is one of the trusted proxies (load balancers):
// then X-Forwarded-For is read from the right, skipping the trusted
// proxies' own addresses, and the first address that is not trusted is the
// client. Addresses further left were written by the client itself and
// could be anything, so they are never believed. An entry that is not an
// address ends the walk at the last address believed. Without trusted
// proxies X-Forwarded-For is ignored.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
		if splitErr != nil {
			return r.RemoteAddr
		}
		return host
	}
	client := peer.Addr().Unmap()
	if !isTrusted(client, trusted) {
		return client.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			addr, ok := parseHop(parts[j])
			if !ok {
				return client.String()
			}
			client = addr
			if !isTrusted(addr, trusted) {
				return client.String()
			}
		}
	}
	return client.String() // every hop trusted: the left-most one
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("203.0.113.7:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
