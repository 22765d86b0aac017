package users

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/internal/colvalue"
)

// Segments: every user a `where` selects, for an export.
//
// A segment is read in keyset batches ordered by id, each batch one
// SELECT of at most SegmentBatch users (their unionid joined) and one
// SELECT of their openids, each under the statement deadline of any admin
// read (the server stops it at 0.9 s: QUERY_TIMEOUT). Nothing holds more
// than one batch, nor more than one pooled connection at a time.
//
// Each SELECT also covers a bounded window of ids, (after, after+window],
// so that its cost does not depend on how rare the matches of `where` are:
// a window that yields less than a full batch doubles (up to
// SegmentMaxWindow ids) and the scan moves past it; a statement stopped at
// its time limit is tried again over a quarter of its window, down to
// SegmentBatch ids. A dense segment costs two statements per SegmentBatch
// users; a sparse one about one statement per SegmentMaxWindow ids of the
// table, plus the batches it fills.
//
// The scan ends at the highest user id when it opened: a user created
// later is left to the next export (resuming after the last id exported
// reads it). Every user that exists when the scan opens, and still
// matches when its window is read, is read exactly once.

// Sizes of a segment scan.
const (
	// SegmentBatch is how many users one statement reads at most.
	SegmentBatch = 1000
	// SegmentMaxWindow is the widest range of ids one statement covers.
	SegmentMaxWindow = 1 << 20
)

// Segment is a request for the users a `where` selects.
type Segment struct {
	// Where filters the users, as in a users page; nil selects all.
	Where *ent.UserWhereInput
	// After resumes an export: only users with a larger id are read; 0
	// starts from the first user.
	After int
}

// SegmentScan reads a segment batch by batch (Next). It is not safe for
// concurrent use.
type SegmentScan struct {
	db         *ent.Client
	q          *ent.UserQuery
	firstMatch bool
	after, end int
	window     int
	batch      int
	statements int
}

// OpenSegment checks seg as users pages are checked (CheckWhere: the
// shapes no index serves are BAD_USER_INPUT) and starts a scan: one
// statement for the first and the last user id.
func (s *Service) OpenSegment(ctx context.Context, seg Segment) (*SegmentScan, error) {
	if seg.After < 0 {
		return nil, apperr.BadInput("after must be a user id")
	}
	if err := CheckWhere(seg.Where); err != nil {
		return nil, err
	}
	q, err := seg.Where.Filter(s.db.User.Query())
	if err != nil {
		return nil, apperr.Wrap(apperr.CodeBadUserInput, "invalid where: "+err.Error(), err)
	}
	sc := &SegmentScan{db: s.db, q: q, firstMatch: broadEdges(seg.Where), after: seg.After, end: seg.After,
		window: SegmentBatch, batch: SegmentBatch}
	// The ids of the first and the last user after seg.After: global IDs
	// start far above 0, and the scan ends at the last.
	first, err := s.db.User.Query().Where(user.IDGT(seg.After)).Order(user.ByID()).FirstID(ctx)
	sc.statements++
	switch {
	case ent.IsNotFound(err):
		return sc, nil // nothing after seg.After
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("reading the first user id: %w", err))
	}
	last, err := s.db.User.Query().Order(user.ByID(sql.OrderDesc())).FirstID(ctx)
	sc.statements++
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("reading the last user id: %w", err))
	}
	sc.after, sc.end = first-1, last
	return sc, nil
}

// SetBatch changes how many users one statement reads (tests: smaller
// batches).
func (sc *SegmentScan) SetBatch(n int) {
	sc.batch = max(n, 1)
	sc.window = sc.batch
}

// Statements is how many SQL statements the scan has run.
func (sc *SegmentScan) Statements() int { return sc.statements }

// Next returns the next batch of users, in id order, with their unionid
// and openids (the openids oldest first): at most the batch size; nil at
// the end of the segment. An error leaves the scan where it was.
func (sc *SegmentScan) Next(ctx context.Context) ([]*ent.User, error) {
	if sc.firstMatch {
		ctx = database.FirstMatch(ctx)
	}
	for sc.after < sc.end {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := sc.after + min(sc.window, sc.end-sc.after)
		rows, err := sc.read(ctx, hi)
		switch {
		case errors.Is(err, database.ErrStatementTimeout) && sc.window > sc.batch:
			sc.window = max(sc.window/4, sc.batch)
			continue
		case err != nil:
			return nil, apperr.Internal(fmt.Errorf("reading a segment of users: %w", err))
		}
		if len(rows) == sc.batch {
			sc.after = rows[len(rows)-1].ID
		} else {
			sc.after, sc.window = hi, min(sc.window*2, SegmentMaxWindow)
		}
		if len(rows) > 0 {
			return rows, nil
		}
	}
	return nil, nil
}

// After is the id the scan has read up to: resuming after it reads the
// rest of the segment.
func (sc *SegmentScan) After() int { return sc.after }

// read runs one batch: the users of `where` in (sc.after, hi], their
// unionid joined (one statement), then their openids (one statement).
func (sc *SegmentScan) read(ctx context.Context, hi int) ([]*ent.User, error) {
	q := sc.q.Clone().
		Where(user.IDGT(sc.after), user.IDLTE(hi), joinUnionID).
		Order(user.ByID()).
		Limit(sc.batch)
	rows, err := q.All(ctx)
	sc.statements++
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	ids := make([]int, len(rows))
	byID := make(map[int]*ent.User, len(rows))
	for i, u := range rows {
		ids[i], byID[u.ID] = u.ID, u
		if un := colvalue.String(u, unionIDColumn); un != "" {
			u.Edges.SetUnionID(&ent.UnionID{UserID: u.ID, Unionid: un})
		} else {
			u.Edges.SetUnionID(nil)
		}
		u.Edges.SetOpenIds([]*ent.OpenID{})
	}
	oids, err := publicOpenIDs(sc.db.OpenID.Query().Where(openid.UserIDIn(ids...))).All(ctx)
	sc.statements++
	if err != nil {
		return nil, err
	}
	for _, o := range oids {
		if u := byID[o.UserID]; u != nil {
			u.Edges.OpenIds = append(u.Edges.OpenIds, o)
		}
	}
	return rows, nil
}

// RecordSegmentExport records that the caller (an admin, from the
// request's origin) exported rows users of a segment: DATA_EXPORTED with
// the number of users as its count and no user id.
func (s *Service) RecordSegmentExport(ctx context.Context, rows int) error {
	err := s.transact(ctx, func(tx *ent.Tx) error {
		return audit.Record(ctx, tx, audit.Event{Kind: audit.DataExported, At: s.now(), Count: audit.Count(rows)})
	})
	if err != nil {
		return apperr.Internal(fmt.Errorf("recording a segment export: %w", err))
	}
	return nil
}
