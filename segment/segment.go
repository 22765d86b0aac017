// Package segment serves POST /admin/export/users: every user a `where`
// selects (the `where` of the admin users query), streamed as NDJSON or
// CSV, for an admin token.
//
// The request is checked before anything is streamed: the caller must be
// an admin (FORBIDDEN), the body must be JSON (BAD_REQUEST), `where` must
// be a UserWhereInput that the users query would accept (BAD_USER_INPUT),
// and the first batch must read (QUERY_TIMEOUT, UNAVAILABLE); each refusal
// is a JSON answer with one coded error, as every refusal of wxid's.
// Then the answer is 200 and streams: the users in id order, read in
// batches (users.SegmentScan) and flushed batch by batch, so that memory
// does not grow with the segment.
//
// Every row carries the user's id; a client whose stream was cut resumes
// with `after` set to the last id it received. An export that reached its
// end says so: NDJSON ends with {"end":{"count":N,"complete":true,...}},
// and both formats end with the trailers Wxid-Export-Complete,
// Wxid-Export-Count and Wxid-Export-After. An error after the first batch
// (the database stopping a statement, say) ends the stream with
// complete:false, the error's code (the end line's error, the trailer
// Wxid-Export-Error) and the `after` to resume from. A stream that simply
// stops, without an end line or trailers, was cut: resume it.
//
// The log gets a line when an export starts, every ProgressRows rows or
// ProgressInterval, and when it ends or is cut: the admin's label, the
// rows, the time; never the filter (it may hold phone numbers) or a user.
// The audit trail gets DATA_EXPORTED with the number of rows and no user.
package segment

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/auth"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/graphqlhttp"
	"github.com/wxid/wxid/users"
)

// Path is where the handler is served.
const Path = "/admin/export/users"

// Defaults of Options.
const (
	// ProgressRows is how many rows pass between two progress lines.
	ProgressRows = 100_000
	// ProgressInterval is the longest time between two progress lines.
	ProgressInterval = 10 * time.Second
	// MaxConcurrent is how many exports one instance runs at once; more
	// are RATE_LIMITED.
	MaxConcurrent = 4
	// WriteStall is how long one batch may take to reach a client that
	// stopped reading before the export is cut.
	WriteStall = 30 * time.Second
)

// Users is the part of the users service an export needs;
// *users.Service implements it.
type Users interface {
	// OpenSegment checks a segment and starts reading it.
	OpenSegment(ctx context.Context, seg users.Segment) (*users.SegmentScan, error)
	// RecordSegmentExport records DATA_EXPORTED for rows users.
	RecordSegmentExport(ctx context.Context, rows int) error
}

// WhereFunc turns the JSON `where` of a request into a UserWhereInput, as
// the GraphQL API does (graph.UserWhere).
type WhereFunc func(ctx context.Context, where any) (*ent.UserWhereInput, error)

// Options configure a Handler.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of the progress lines; nil means time.Now.
	Now func() time.Time
}

// Handler serves exports of user segments.
type Handler struct {
	users Users
	where WhereFunc
	log   *slog.Logger
	now   func() time.Time
	slots chan struct{}
}

// New returns the handler over the users service.
func New(u Users, where WhereFunc, o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{users: u, where: where, log: o.Logger, now: o.Now, slots: make(chan struct{}, MaxConcurrent)}
}

// request is the JSON body of an export.
type request struct {
	// Format is NDJSON (default) or CSV.
	Format string `json:"format"`
	// Where is a UserWhereInput, as decoded JSON.
	Where any `json:"where"`
	// After is the id after which to resume: a string of digits (as rows
	// carry it) or a number.
	After json.RawMessage `json:"after"`
}

// after returns the id of a request's after; 0 when absent.
func (r *request) after() (int, error) {
	s := strings.Trim(string(r.After), `"`)
	if s == "" || s == "null" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, apperr.BadInput("after must be the id of a user, as the rows carry it")
	}
	return n, nil
}

// ServeHTTP checks the request, then streams the export.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.refuse(w, r, &graphqlhttp.Error{Status: http.StatusMethodNotAllowed, Allow: http.MethodPost,
			Err: apperr.New(apperr.CodeBadRequest, "export with POST and a JSON body (format, where, after)")})
		return
	}
	if err := auth.ViewerFromContext(r.Context()).RequireAdmin(); err != nil {
		h.refuse(w, r, &graphqlhttp.Error{Status: http.StatusForbidden, Err: err})
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.refuse(w, r, apperr.RateLimited(fmt.Sprintf("%d exports are running on this instance: retry later", MaxConcurrent), 30*time.Second))
		return
	}
	o, err := h.open(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	h.stream(w, r, o)
}

// refuse answers a request that is not streamed with one coded error.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	graphqlhttp.WriteError(w, r, h.log, err)
}

// opened is an export whose request was accepted and whose first batch
// was read.
type opened struct {
	format string
	after  int
	scan   *users.SegmentScan
	first  []*ent.User
}

// open decodes and checks the request and reads the first batch, so that
// every refusal comes before the stream starts.
func (h *Handler) open(r *http.Request) (*opened, error) {
	req, err := decode(r)
	if err != nil {
		return nil, err
	}
	seg := users.Segment{}
	if seg.After, err = req.after(); err != nil {
		return nil, err
	}
	if seg.Where, err = h.where(r.Context(), req.Where); err != nil {
		return nil, err
	}
	o := &opened{format: req.Format, after: seg.After}
	if o.scan, err = h.users.OpenSegment(r.Context(), seg); err != nil {
		return nil, err
	}
	if o.first, err = o.scan.Next(r.Context()); err != nil {
		return nil, err
	}
	return o, nil
}

// decode reads the JSON body: BAD_REQUEST when it is no JSON object,
// BAD_USER_INPUT for an unknown field or format.
func decode(r *http.Request) (*request, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &graphqlhttp.Error{Status: http.StatusUnsupportedMediaType,
			Err: apperr.New(apperr.CodeBadRequest, "send the export request as Content-Type: application/json")}
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	req := &request{}
	if err := dec.Decode(req); err != nil {
		var tooLarge *http.MaxBytesError
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &tooLarge):
			return nil, tooLarge
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, graphqlhttp.Refuse(http.StatusBadRequest, "the body is not a JSON object")
		}
		return nil, apperr.Wrap(apperr.CodeBadUserInput, "the body must be a JSON object of format, where and after: "+
			strings.TrimPrefix(err.Error(), "json: "), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apperr.BadInput("the body must hold one JSON object")
	}
	switch req.Format {
	case "":
		req.Format = NDJSON
	case NDJSON, CSV:
	default:
		return nil, apperr.BadInput("format must be %q or %q", NDJSON, CSV)
	}
	return req, nil
}

// export is one running export.
type export struct {
	h        *Handler
	ctx      context.Context
	w        http.ResponseWriter
	rc       *http.ResponseController
	buf      *bufio.Writer
	enc      encoder
	actor    string
	start    time.Time
	rows     int
	lastID   int
	progress struct {
		rows int
		at   time.Time
	}
}

// stream writes the answer: first, then the scan's batches until its end,
// an error, or the client going away.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, o *opened) {
	ctx, scan := r.Context(), o.scan
	x := &export{h: h, ctx: ctx, w: w, rc: http.NewResponseController(w), enc: newEncoder(o.format),
		actor: audit.OriginFrom(ctx).Actor, start: h.now(), lastID: o.after}
	x.progress.at = x.start
	x.buf = bufio.NewWriterSize(w, 64<<10)
	// The request's own deadlines do not fit an export: it lasts as long
	// as the segment; each batch must reach the client within WriteStall.
	_ = x.rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", x.enc.contentType())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	declareTrailers(w.Header())
	w.WriteHeader(http.StatusOK)
	h.log.InfoContext(ctx, "user export started", "actor", x.actor, "format", o.format, "resumed", o.after > 0)

	err := x.enc.begin(x.buf)
	for batch := o.first; err == nil && batch != nil; {
		if err = x.write(batch); err != nil {
			break
		}
		batch, err = scan.Next(ctx)
	}
	x.finish(scan, err)
}

// write sends one batch and flushes it to the client.
func (x *export) write(batch []*ent.User) error {
	_ = x.rc.SetWriteDeadline(time.Now().Add(WriteStall))
	for _, u := range batch {
		if err := x.enc.row(x.buf, u); err != nil {
			return cut{err}
		}
		x.rows++
		x.lastID = u.ID
	}
	if err := x.buf.Flush(); err != nil {
		return cut{err}
	}
	if err := x.rc.Flush(); err != nil {
		return cut{err}
	}
	if now := x.h.now(); x.rows-x.progress.rows >= ProgressRows || now.Sub(x.progress.at) >= ProgressInterval {
		x.progress.rows, x.progress.at = x.rows, now
		x.h.log.InfoContext(x.ctx, "user export progress", "actor", x.actor, "rows", x.rows, "elapsed", now.Sub(x.start))
	}
	return nil
}

// cut is a failure to write to the client: the stream is cut.
type cut struct{ err error }

func (c cut) Error() string { return "writing the export: " + c.err.Error() }
func (c cut) Unwrap() error { return c.err }

// finish ends the export: the end line and trailers unless the client is
// gone, a log line, the audit event.
func (x *export) finish(scan *users.SegmentScan, err error) {
	var wcut cut
	gone := errors.As(err, &wcut) || x.ctx.Err() != nil
	e := ending{Count: x.rows, Complete: err == nil, After: strconv.Itoa(x.lastID)}
	if err != nil && !gone {
		gerr := errmap.Present(x.ctx, x.h.log, err)
		e.Error = &errorJSON{Message: gerr.Message, Extensions: gerr.Extensions}
	}
	if !gone {
		if werr := x.enc.end(x.buf, e); werr == nil && x.buf.Flush() == nil {
			setTrailers(x.w.Header(), e)
		}
	}
	elapsed := x.h.now().Sub(x.start)
	attrs := []any{"actor", x.actor, "rows", x.rows, "elapsed", elapsed, "statements", scan.Statements()}
	switch {
	case gone:
		x.h.log.InfoContext(x.ctx, "user export cut: the client went away", attrs...)
	case err != nil:
		x.h.log.WarnContext(x.ctx, "user export stopped on an error", append(attrs, "code", e.Error.Extensions["code"])...)
	default:
		x.h.log.InfoContext(x.ctx, "user export finished", attrs...)
	}
	// The request's context may be gone: the audit event is recorded
	// anyway, within its own deadline.
	actx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), 5*time.Second)
	defer cancel()
	if aerr := x.h.users.RecordSegmentExport(actx, x.rows); aerr != nil {
		x.h.log.ErrorContext(x.ctx, "recording a user export", "err", aerr)
	}
}
