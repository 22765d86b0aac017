package graphqlhttp

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wxid/wxid/apperr"
)

// CORS headers wxid sends to the origins it allows.
const (
	// CORSAllowHeaders are the request headers a browser may send.
	CORSAllowHeaders = "Authorization, Content-Type, X-Request-Id"
	// CORSExposeHeaders are the answer headers a page may read.
	CORSExposeHeaders = "X-Request-Id, Retry-After"
	// CORSMaxAge is how long a browser may cache a preflight answer.
	CORSMaxAge = 10 * time.Minute
)

// CORS lets browsers on exactly the listed origins call next: a preflight
// (OPTIONS with Access-Control-Request-Method) from a listed origin is
// answered 204 with the methods, Authorization and Content-Type allowed,
// and Max-Age; one from any other origin is refused (403, FORBIDDEN,
// without CORS headers, so the browser blocks the call). Other requests
// from a listed origin get Access-Control-Allow-Origin; from others they
// run without it, which browsers do not let the page read. No credentials
// (cookies) are allowed: wxid authenticates with a bearer token. With no
// origins, CORS returns next as it is.
func CORS(origins []string, log *slog.Logger, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	maxAge := strconv.Itoa(int(CORSMaxAge / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		switch {
		case origin == "" || !allowed[origin]:
			if preflight {
				WriteError(w, r, log, &Error{Status: http.StatusForbidden,
					Err: apperr.Forbidden("this origin may not call wxid from a browser: list it in WXID_CORS_ORIGINS")})
				return
			}
		case preflight:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", CORSExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}
