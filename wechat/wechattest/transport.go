package wechattest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
)

// NewTransport returns a RoundTripper that serves every request with h in
// process, without a socket: give it to wechat.Options.Transport to talk to
// the stand-in. The request's context is the handler's, and the round trip
// returns the context's error as soon as it is done (a Fault.Delay longer
// than the client timeout times out as over the network).
func NewTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

// RoundTrip implements http.RoundTripper.
func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	in := req.Clone(ctx)
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}

	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("wechattest: handler panicked: %v", p)}
			}
		}()
		rec := httptest.NewRecorder()
		t.h.ServeHTTP(rec, in)
		resp := rec.Result()
		resp.Request = req
		done <- result{resp: resp}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
