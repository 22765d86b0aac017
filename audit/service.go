package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/auditevent"
)

// MaxPageSize caps first and last of a page of events; a page that names
// neither has MaxPageSize events.
const MaxPageSize = 100

// DefaultRetention is how long events are kept unless WXID_AUDIT_RETENTION
// says otherwise: 400 days, a year and a bit, so that last year's events
// can still be read in a yearly review.
const DefaultRetention = 400 * 24 * time.Hour

// purgeBatch bounds one delete of old events, so that a purge never holds
// many row locks or a long transaction.
const purgeBatch = 500

// Service reads and purges the audit trail; Record writes it.
type Service struct {
	db        *ent.Client
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// Options configure a Service.
type Options struct {
	// Retention is how long events are kept; 0 means DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// NewService returns the audit trail over the database.
func NewService(db *ent.Client, o Options) *Service {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: db, retention: o.Retention, now: o.Now, log: o.Logger}
}

// Page is one request for a page of events.
type Page struct {
	// After and Before are the cursors the page lies between.
	After, Before *ent.Cursor
	// First and Last are the page size, counted from After or Before.
	First, Last *int
	// OrderBy sorts the events; nil sorts by time, oldest first.
	OrderBy *ent.AuditEventOrder
	// Where filters the events; nil selects all.
	Where *ent.AuditEventWhereInput
}

// PageSize returns how many events a page asks for, clamped to
// [0, MaxPageSize]: the complexity of the connection is its items'
// complexity times it.
func PageSize(first, last *int) int {
	n := MaxPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	return min(max(n, 0), MaxPageSize)
}

func (p *Page) validate() error {
	for _, n := range []*int{p.First, p.Last} {
		if n != nil && (*n < 0 || *n > MaxPageSize) {
			return apperr.BadInput("first and last must be between 0 and %d", MaxPageSize)
		}
	}
	switch {
	case p.First != nil && p.Last != nil:
		return apperr.BadInput("pass first or last, not both")
	case p.First != nil && p.Before != nil, p.Last != nil && p.After != nil:
		return apperr.BadInput("page forward with first and after, backward with last and before")
	}
	if p.OrderBy == nil {
		p.OrderBy = &ent.AuditEventOrder{Field: ent.AuditEventOrderFieldAt, Direction: entgql.OrderDirectionAsc}
	}
	if err := p.OrderBy.Direction.Validate(); err != nil {
		return apperr.BadInput("orderBy.direction must be ASC or DESC")
	}
	if p.First == nil && p.Last == nil {
		n := MaxPageSize
		if p.Before != nil {
			p.Last = &n
		} else {
			p.First = &n
		}
	}
	return nil
}

// List returns one page of events, ties in time broken by ID in the same
// direction.
func (s *Service) List(ctx context.Context, p Page) (*ent.AuditEventConnection, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	opts := []ent.AuditEventPaginateOption{ent.WithAuditEventOrder(p.OrderBy)}
	if p.Where != nil {
		if _, err := p.Where.P(); err != nil && err != ent.ErrEmptyAuditEventWhereInput {
			return nil, apperr.BadInput("where: %v", err)
		}
		opts = append(opts, ent.WithAuditEventFilter(p.Where.Filter))
	}
	conn, err := s.db.AuditEvent.Query().Paginate(ctx, p.After, p.First, p.Before, p.Last, opts...)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("listing audit events: %w", err))
	}
	return conn, nil
}

// About returns every event about userID (as its user or as the other
// user), oldest first, read through client (a transaction's, say): what an
// export of the user's data shows.
func About(ctx context.Context, client *ent.Client, userID int) ([]*ent.AuditEvent, error) {
	rows, err := client.AuditEvent.Query().
		Where(auditevent.Or(auditevent.UserID(userID), auditevent.OtherUserID(userID))).
		Order(ent.Asc(auditevent.FieldAt), ent.Asc(auditevent.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return rows, nil
}

// Purge deletes the events older than the retention, purgeBatch rows at a
// time, and returns how many it deleted.
func (s *Service) Purge(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.retention).UTC()
	total := 0
	for {
		ids, err := s.db.AuditEvent.Query().
			Where(auditevent.AtLT(cutoff)).
			Order(ent.Asc(auditevent.FieldAt)).
			Limit(purgeBatch).
			IDs(ctx)
		if err != nil {
			return total, fmt.Errorf("listing expired audit events: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := s.db.AuditEvent.Delete().Where(auditevent.IDIn(ids...)).Exec(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("purging audit events: %w", err)
		}
		if len(ids) < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// Run purges expired events every interval until ctx ends (never when
// interval is zero).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "purging audit events", "err", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "purged expired audit events", "count", n)
			}
		}
	}
}
