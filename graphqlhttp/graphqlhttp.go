// Package graphqlhttp serves GraphQL over HTTP the way the
// GraphQL-over-HTTP specification asks (graphql-http's server audits are
// its test): GET for queries, POST with application/json for everything,
// application/json or application/graphql-response+json answers by the
// Accept header, and a JSON answer with a coded error for every refusal.
//
// It replaces gqlgen's GET, POST and OPTIONS transports, which answer some
// refusals in text/plain, send "data": null with request errors, answer a
// GET mutation with 406 and code nothing themselves. Refusals are typed
// where they are made (*Error with an HTTP status, *http.MaxBytesError) and
// get their extensions.code from the one error mapper, package errmap.
package graphqlhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/errmap"
)

// Media types of GraphQL answers.
const (
	// JSON is the classic GraphQL answer type: request errors answer 200.
	JSON = "application/json; charset=utf-8"
	// GraphQLResponseJSON is the specification's own answer type: request
	// errors (parse, validation, variables) answer 400.
	GraphQLResponseJSON = "application/graphql-response+json; charset=utf-8"
)

// Allowed is the Allow header of /graphql.
const Allowed = "GET, POST, OPTIONS"

// Error is a request refused before any GraphQL runs: an HTTP status, the
// Allow header of a 405, and the coded error clients see.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Allow, when set, is sent as the Allow header.
	Allow string
	// Err is the coded error (an *apperr.Error).
	Err error
}

// Error returns the coded error's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the coded error.
func (e *Error) Unwrap() error { return e.Err }

// Refuse returns an *Error with a BAD_REQUEST code (NOT_FOUND for 404).
func Refuse(status int, message string) *Error {
	code := apperr.CodeBadRequest
	if status == http.StatusNotFound {
		code = apperr.CodeNotFound
	}
	return &Error{Status: status, Err: apperr.New(code, message)}
}

// StatusOf is the HTTP status of an answer that carries only err: an
// *Error's own, 413 for a body over the limit, 500 for anything else.
func StatusOf(err error) int {
	var refused *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &refused):
		return refused.Status
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	}
	switch errmap.Code(err) {
	case apperr.CodeInternal:
		return http.StatusInternalServerError
	case apperr.CodeUnavailable:
		return http.StatusServiceUnavailable
	case apperr.CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusBadRequest
	}
}

// WriteError answers a request with err alone: StatusOf(err), a JSON body
// with one coded GraphQL error (errmap) and no data, in the media type the
// client accepts. It is the answer of every refusal outside the executor:
// transport errors, unknown routes, panics, oversized bodies.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var refused *Error
	if errors.As(err, &refused) && refused.Allow != "" {
		w.Header().Set("Allow", refused.Allow)
	}
	mediaType, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		mediaType = JSON
	}
	write(w, mediaType, StatusOf(err), requestErrors{Errors: gqlerror.List{errmap.Present(r.Context(), log, err)}})
}

// LimitBody caps request bodies at n bytes: a declared length over n is
// refused at once; a body that grows past n fails when read, and the
// reader answers the same way (WriteError with *http.MaxBytesError).
func LimitBody(n int64, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			WriteError(w, r, log, &http.MaxBytesError{Limit: n})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// Handler serves one executable schema at /graphql.
type Handler struct {
	exec *executor.Executor
	log  *slog.Logger
}

// New returns the handler of exec, an executor configured with its
// extensions and errmap's presenter; log receives what errmap logs for
// refusals.
func New(exec *executor.Executor, log *slog.Logger) *Handler {
	return &Handler{exec: exec, log: log}
}

// ServeHTTP runs one GraphQL request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := graphql.Now()
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", Allowed)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	mediaType, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		WriteError(w, r, h.log, Refuse(http.StatusNotAcceptable,
			"cannot answer in the media types of Accept: accept application/graphql-response+json or application/json"))
		return
	}
	var (
		params *graphql.RawParams
		err    error
	)
	switch r.Method {
	case http.MethodGet:
		params, err = fromQuery(r.URL.RawQuery)
	case http.MethodPost:
		params, err = fromBody(r)
	default:
		err = &Error{Status: http.StatusMethodNotAllowed, Allow: Allowed,
			Err: apperr.New(apperr.CodeBadRequest, "use GET for queries or POST for any operation")}
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	h.run(w, r, mediaType, params)
}

// run executes params and writes the answer.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, mediaType string, params *graphql.RawParams) {
	ctx := graphql.StartOperationTrace(r.Context())
	params.Headers = r.Header
	opCtx, errs := h.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A request error: nothing ran, so there is no data entry.
		status := http.StatusOK
		if mediaType == GraphQLResponseJSON {
			status = http.StatusBadRequest
		}
		resp := h.exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		write(w, mediaType, status, requestErrors{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// GET is safe: a mutation over GET would let any page trigger one
		// (CSRF).
		WriteError(w, r, h.log, &Error{Status: http.StatusMethodNotAllowed, Allow: http.MethodPost,
			Err: apperr.New(apperr.CodeBadRequest, "GET runs queries only: send "+string(opCtx.Operation.Operation)+"s with POST")})
		return
	}
	responses, ctx := h.exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// gqlgen gives no answer once the request's context is done: the
		// request timeout passed (or the client left).
		WriteError(w, r, h.log, apperr.Unavailable("the request did not finish in time; retry later", time.Second, ctx.Err()))
		return
	}
	write(w, mediaType, http.StatusOK, resp)
}

// requestErrors is the answer to a request that did not run: errors, no
// data entry.
type requestErrors struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func write(w http.ResponseWriter, mediaType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// A resolver's value that does not marshal: a programming error.
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// negotiate picks the answer's media type from Accept: the acceptable type
// of highest quality, application/json for */*, application/* or no Accept
// at all; false when Accept names nothing wxid can send.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			continue
		}
		var typ string
		switch mt {
		case "application/graphql-response+json":
			typ = GraphQLResponseJSON
		case "application/json", "application/*", "*/*":
			typ = JSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = typ, q
		}
	}
	return best, best != ""
}

// body is a POST body: query, operationName, variables, extensions.
type body struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// fromBody reads a POST request: application/json in UTF-8, one JSON
// object.
func fromBody(r *http.Request) (*graphql.RawParams, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil || mt != "application/json":
		return nil, Refuse(http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json")
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		return nil, Refuse(http.StatusUnsupportedMediaType, "send the request body in UTF-8")
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, Refuse(http.StatusBadRequest, "the request body could not be read")
	}
	var b body
	if err := decode(string(raw), &b); err != nil {
		return nil, Refuse(http.StatusBadRequest,
			"the request body is not a GraphQL request in JSON: an object with query (a string) and optional operationName, variables and extensions")
	}
	return b.params()
}

// fromQuery reads a GET request's URL parameters.
func fromQuery(rawQuery string) (*graphql.RawParams, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, Refuse(http.StatusBadRequest, "the URL parameters could not be read")
	}
	var b body
	if q.Has("query") {
		b.Query = new(string)
		*b.Query = q.Get("query")
	}
	if q.Has("operationName") {
		b.OperationName = new(string)
		*b.OperationName = q.Get("operationName")
	}
	for name, dst := range map[string]*map[string]any{"variables": &b.Variables, "extensions": &b.Extensions} {
		if v := q.Get(name); v != "" {
			if err := decode(v, dst); err != nil {
				return nil, Refuse(http.StatusBadRequest, name+" must be a JSON object")
			}
		}
	}
	return b.params()
}

// params checks that a query is there, unless a persisted query names it.
func (b *body) params() (*graphql.RawParams, error) {
	if b.Query == nil && b.Extensions["persistedQuery"] == nil {
		return nil, Refuse(http.StatusBadRequest, "the request has no query")
	}
	p := &graphql.RawParams{Variables: b.Variables, Extensions: b.Extensions}
	if b.Query != nil {
		p.Query = *b.Query
	}
	if b.OperationName != nil {
		p.OperationName = *b.OperationName
	}
	return p, nil
}

// decode reads exactly one JSON value, numbers kept as json.Number (as
// gqlgen expects).
func decode(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decoding JSON: data after the value")
	}
	return nil
}
