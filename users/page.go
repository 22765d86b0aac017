package users

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/user"
)

// Pagination of users.
//
// The connection types, filters and order fields are entgql's; the page
// itself is cut here rather than by the generated UserQuery.Paginate,
// whose cursor predicates (entgql v0.7) lose rows in two cases a
// dashboard meets: rows whose order value is NULL (LAST_LOGIN_AT is
// nullable) vanish from every page after a cursor, and `first` with
// `before` (or `last` with `after`) compares in the wrong direction. Rows
// are sorted by (order column, id), both in the requested direction, with
// NULL before every value as MySQL and SQLite sort it.

// MaxPageSize caps first and last of a page, and the IDs of one Nodes.
const MaxPageSize = 100

// DefaultPageSize is the page size of a connection queried with neither
// first nor last.
const DefaultPageSize = MaxPageSize

// PageSize returns how many items a connection page asks for: first or
// last, DefaultPageSize without either, clamped to [0, MaxPageSize]. The
// complexity of a connection field is its items' complexity times it.
func PageSize(first, last *int) int {
	n := DefaultPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	return min(max(n, 0), MaxPageSize)
}

// Page is one request for a page of users.
type Page struct {
	// After and Before are the cursors the page lies between.
	After, Before *ent.Cursor
	// First and Last are the page size, counted from After or Before.
	First, Last *int
	// OrderBy sorts the users (before their id); nil sorts by id.
	OrderBy *ent.UserOrder
	// Where filters the users; nil selects all.
	Where *ent.UserWhereInput
}

// Want says what a caller reads of a connection: the rest is not queried.
type Want struct {
	// TotalCount, PageInfo and Edges are the connection's fields.
	TotalCount, PageInfo, Edges bool
	// Node is what it reads of each edge's node.
	Node Edges
}

// All is every part of a connection, with every edge of its users.
var All = Want{TotalCount: true, PageInfo: true, Edges: true, Node: Edges{OpenIDs: true, UnionID: true}}

// orderColumn is the column a users page is sorted by (before id), ""
// for the default order by id alone.
func (p Page) orderColumn() (column string, nullable bool) {
	if p.OrderBy == nil || p.OrderBy.Field == nil {
		return "", false
	}
	switch p.OrderBy.Field.String() {
	case "CREATED_AT":
		return user.FieldCreatedAt, false
	case "LAST_LOGIN_AT":
		return user.FieldLastLoginAt, true
	}
	return "", false
}

func (p Page) direction() entgql.OrderDirection {
	if p.OrderBy == nil || p.OrderBy.Direction == "" {
		return entgql.OrderDirectionAsc
	}
	return p.OrderBy.Direction
}

// cursor returns the cursor of u in this order. A cursor of a time order
// holds the order's name with the time (nil for a NULL LAST_LOGIN_AT), so
// that a cursor handed to another order is refused instead of cutting the
// page at a value of another column; a cursor of the id order holds no
// value.
func (p Page) cursor(u *ent.User) ent.Cursor {
	c := ent.Cursor{ID: u.ID}
	switch column, _ := p.orderColumn(); column {
	case user.FieldCreatedAt:
		c.Value = []any{p.OrderBy.Field.String(), u.CreatedAt}
	case user.FieldLastLoginAt:
		var v any
		if u.LastLoginAt != nil {
			v = *u.LastLoginAt
		}
		c.Value = []any{p.OrderBy.Field.String(), v}
	}
	return c
}

// validate checks the page size and that the cursors belong to the order.
func (p Page) validate() error {
	if err := checkPageSize(p.First, p.Last); err != nil {
		return err
	}
	if p.First != nil && p.Last != nil {
		return apperr.BadInput("pass first or last, not both")
	}
	if p.OrderBy != nil {
		if err := p.OrderBy.Direction.Validate(); err != nil {
			return apperr.BadInput("orderBy.direction must be ASC or DESC")
		}
	}
	column, nullable := p.orderColumn()
	for _, c := range []*ent.Cursor{p.After, p.Before} {
		if c == nil {
			continue
		}
		ok := c.Value == nil
		if column != "" {
			v, isTime := cursorTime(c)
			ok = cursorOrder(c) == p.OrderBy.Field.String() && (isTime || v == nil && nullable && cursorNull(c))
		}
		if !ok {
			return apperr.BadInput("the cursor belongs to another orderBy: start again from the first page")
		}
	}
	return nil
}

// cursorOrder returns the order a cursor of a time order was cut in.
func cursorOrder(c *ent.Cursor) string {
	if v, ok := c.Value.([]any); ok && len(v) == 2 {
		s, _ := v[0].(string)
		return s
	}
	return ""
}

// cursorNull reports whether a cursor of a time order holds NULL.
func cursorNull(c *ent.Cursor) bool {
	v, ok := c.Value.([]any)
	return ok && len(v) == 2 && v[1] == nil
}

// cursorTime returns the time a cursor of a time order holds; nil and
// false for NULL or no time.
func cursorTime(c *ent.Cursor) (*time.Time, bool) {
	v, ok := c.Value.([]any)
	if !ok || len(v) != 2 {
		return nil, false
	}
	switch t := v[1].(type) {
	case time.Time:
		u := t.UTC()
		return &u, true
	case *time.Time:
		if t != nil {
			u := t.UTC()
			return &u, true
		}
	}
	return nil, false
}

// beyond selects the users strictly after c when sorted by (column, id) in
// direction dir, NULL sorting before every value.
func beyond(c *ent.Cursor, column string, nullable bool, dir entgql.OrderDirection) func(*sql.Selector) {
	asc := dir == entgql.OrderDirectionAsc
	idBeyond := func(s *sql.Selector) *sql.Predicate {
		if asc {
			return sql.GT(s.C(user.FieldID), c.ID)
		}
		return sql.LT(s.C(user.FieldID), c.ID)
	}
	return func(s *sql.Selector) {
		if column == "" {
			s.Where(idBeyond(s))
			return
		}
		col := s.C(column)
		t, ok := cursorTime(c)
		var v time.Time
		if ok {
			v = *t
		}
		switch {
		case !ok && asc: // past the NULLs with a smaller id, then every value
			s.Where(sql.Or(sql.NotNull(col), sql.And(sql.IsNull(col), idBeyond(s))))
		case !ok: // descending, the NULLs come last: only those with a smaller id
			s.Where(sql.And(sql.IsNull(col), idBeyond(s)))
		case asc: // col >= v first, so that an index on col serves the range
			s.Where(sql.And(sql.GTE(col, v), sql.Or(sql.GT(col, v), idBeyond(s))))
		default:
			p := sql.And(sql.LTE(col, v), sql.Or(sql.LT(col, v), idBeyond(s)))
			if nullable {
				p = sql.Or(p, sql.IsNull(col))
			}
			s.Where(p)
		}
	}
}

// TotalCountCap is how far a connection's totalCount counts: a count up to
// it is exact; beyond it totalCount is TotalCountCap+1 and
// totalCountIsExact false ("more than 1,000"). Counting stops there so
// that every page costs the same at ten million users as at a thousand:
// an exact COUNT reads every row `where` selects (about 1 s for all users
// at 10M, tens of seconds for the users of one large app), on every page.
const TotalCountCap = 1000

// TotalCountIsExact reports whether conn's totalCount is the exact number
// of users, not a lower bound (see TotalCountCap).
func TotalCountIsExact(conn *ent.UserConnection) bool { return conn.TotalCount <= TotalCountCap }

// List cuts one page of the users p selects: the total count (one SELECT
// of at most TotalCountCap+1 ids, only when wanted), the page (one SELECT) and the edges of its users that
// want names (one query each).
func (s *Service) List(ctx context.Context, p Page, want Want) (*ent.UserConnection, error) {
	if err := CheckWhere(p.Where); err != nil {
		return nil, err
	}
	q, err := p.Where.Filter(s.db.User.Query())
	if err != nil {
		return nil, apperr.Wrap(apperr.CodeBadUserInput, "invalid where: "+err.Error(), err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if broadEdges(p.Where) {
		ctx = database.FirstMatch(ctx)
	}
	conn := &ent.UserConnection{Edges: []*ent.UserEdge{}}
	if want.TotalCount {
		// At most TotalCountCap+1 ids: an index range, never the table.
		ids, err := q.Clone().Limit(TotalCountCap + 1).IDs(ctx)
		if err != nil {
			return nil, apperr.Internal(fmt.Errorf("counting users: %w", err))
		}
		conn.TotalCount = len(ids)
	}
	n := PageSize(p.First, p.Last)
	if (!want.Edges && !want.PageInfo) || n == 0 {
		return conn, nil
	}
	nodes, err := want.Node.with(p.scan(q)).Limit(n + 1).All(ctx)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("listing users: %w", err))
	}
	if want.Node.ActiveSessions {
		if err := s.withActiveSessions(ctx, nodes); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	p.fill(conn, nodes, n)
	return conn, nil
}

// scan narrows q to the users between the cursors and sorts them in the
// order the page is read: from its end when it counts Last.
func (p Page) scan(q *ent.UserQuery) *ent.UserQuery {
	column, nullable := p.orderColumn()
	dir := p.direction()
	if p.After != nil {
		q.Where(beyond(p.After, column, nullable, dir))
	}
	if p.Before != nil {
		q.Where(beyond(p.Before, column, nullable, dir.Reverse()))
	}
	scan := dir
	if p.Last != nil { // read from the end, then put the page back in order
		scan = dir.Reverse()
	}
	switch column {
	case user.FieldCreatedAt:
		q.Order(user.ByCreatedAt(scan.OrderTermOption()))
	case user.FieldLastLoginAt:
		q.Order(user.ByLastLoginAt(scan.OrderTermOption()))
	}
	return q.Order(user.ByID(scan.OrderTermOption()))
}

// fill sets conn's edges and page info from the users scan read: up to
// n+1 of them, the extra one telling that there are more.
func (p Page) fill(conn *ent.UserConnection, nodes []*ent.User, n int) {
	more := len(nodes) > n
	if more {
		nodes = nodes[:n]
	}
	if p.Last != nil {
		slices.Reverse(nodes)
		conn.PageInfo.HasPreviousPage = more || p.After != nil
		conn.PageInfo.HasNextPage = p.Before != nil
	} else {
		conn.PageInfo.HasNextPage = more || p.Before != nil
		conn.PageInfo.HasPreviousPage = p.After != nil
	}
	conn.Edges = make([]*ent.UserEdge, len(nodes))
	for i, u := range nodes {
		conn.Edges[i] = &ent.UserEdge{Node: u, Cursor: p.cursor(u)}
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
}

// checkPageSize refuses pages larger than MaxPageSize and negative ones.
func checkPageSize(first, last *int) error {
	for _, n := range []*int{first, last} {
		if n != nil && (*n < 0 || *n > MaxPageSize) {
			return apperr.BadInput("first and last must be between 0 and %d", MaxPageSize)
		}
	}
	return nil
}
