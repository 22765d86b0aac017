package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wxid/wxid/apperr"
)

// limitBody caps request bodies: a declared length over n is refused at
// once with 413; a body that grows past n fails when read.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, apperr.CodeBadUserInput,
				"request body too large: the limit is "+strconv.FormatInt(n, 10)+" bytes")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// codeTransportErrors gives every error gqlgen's transports write on their
// own (4xx answers that never reach the error presenter) an
// extensions.code, so that clients can rely on one always being there.
func codeTransportErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.flush()
	})
}

// codingWriter buffers an error answer (status >= 400) so flush can add the
// codes; any other answer passes straight through.
type codingWriter struct {
	http.ResponseWriter
	status int
	buf    *bytes.Buffer
}

func (w *codingWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status >= 400 {
		w.buf = &bytes.Buffer{}
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *codingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf != nil {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *codingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *codingWriter) flush() {
	if w.buf == nil {
		return
	}
	var body struct {
		Errors []map[string]any `json:"errors"`
		Data   any              `json:"data"`
	}
	if err := json.Unmarshal(w.buf.Bytes(), &body); err != nil || len(body.Errors) == 0 {
		w.ResponseWriter.WriteHeader(w.status)
		_, _ = w.ResponseWriter.Write(w.buf.Bytes())
		return
	}
	for _, e := range body.Errors {
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			e["extensions"] = ext
		}
		if _, ok := ext["code"]; !ok {
			ext["code"] = apperr.CodeBadRequest
		}
	}
	out, err := json.Marshal(body)
	if err != nil {
		out = w.buf.Bytes()
	}
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(out)
}

// writeGraphQLError answers with one coded GraphQL error.
func writeGraphQLError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": code}}},
		"data":   nil,
	})
}
