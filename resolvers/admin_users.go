package resolvers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	entsession "github.com/wxid/wxid/ent/session"
	"github.com/wxid/wxid/ent/user"
)

// Pagination of Query.users.
//
// The connection types, filters and order fields are entgql's; the page
// itself is cut here rather than by the generated UserQuery.Paginate,
// whose cursor predicates (entgql v0.7) lose rows in two cases a
// dashboard meets: rows whose order value is NULL (LAST_LOGIN_AT is
// nullable) vanish from every page after a cursor, and `first` with
// `before` (or `last` with `after`) compares in the wrong direction. Rows
// are sorted by (order column, id), both in the requested direction, with
// NULL before every value as MySQL and SQLite sort it.

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

// userPage is one request for a page of users.
type userPage struct {
	after, before *ent.Cursor
	first, last   *int
	order         *ent.UserOrder
}

// orderColumn is the column a users page is sorted by (before id), ""
// for the default order by id alone.
func (p userPage) orderColumn() (column string, nullable bool) {
	if p.order == nil || p.order.Field == nil {
		return "", false
	}
	switch p.order.Field.String() {
	case "CREATED_AT":
		return user.FieldCreatedAt, false
	case "LAST_LOGIN_AT":
		return user.FieldLastLoginAt, true
	}
	return "", false
}

func (p userPage) direction() entgql.OrderDirection {
	if p.order == nil || p.order.Direction == "" {
		return entgql.OrderDirectionAsc
	}
	return p.order.Direction
}

// cursor returns the cursor of u in this order.
func (p userPage) cursor(u *ent.User) ent.Cursor {
	c := ent.Cursor{ID: u.ID}
	switch column, _ := p.orderColumn(); column {
	case user.FieldCreatedAt:
		c.Value = u.CreatedAt
	case user.FieldLastLoginAt:
		if u.LastLoginAt != nil {
			c.Value = *u.LastLoginAt
		}
	}
	return c
}

// validate checks the page size and that the cursors belong to the order.
func (p userPage) validate() error {
	if err := checkPageSize(p.first, p.last); err != nil {
		return err
	}
	if p.first != nil && p.last != nil {
		return apperr.BadInput("pass first or last, not both")
	}
	if p.order != nil {
		if err := p.order.Direction.Validate(); err != nil {
			return apperr.BadInput("orderBy.direction must be ASC or DESC")
		}
	}
	column, nullable := p.orderColumn()
	for _, c := range []*ent.Cursor{p.after, p.before} {
		if c == nil || column == "" {
			continue
		}
		if _, ok := cursorTime(c); !ok && (c.Value != nil || !nullable) {
			return apperr.BadInput("the cursor belongs to another orderBy: start again from the first page")
		}
	}
	return nil
}

// cursorTime returns the time a cursor of a time order holds.
func cursorTime(c *ent.Cursor) (time.Time, bool) {
	switch v := c.Value.(type) {
	case time.Time:
		return v.UTC(), true
	case *time.Time:
		if v != nil {
			return v.UTC(), true
		}
	}
	return time.Time{}, false
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
		v, ok := cursorTime(c)
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

// paginateUsers cuts one page of the users q selects: totalCount counts q
// (one COUNT, only when asked for), the page is one SELECT, and the edges
// the selection asks for (openIds, unionId) are loaded with one query each.
func paginateUsers(ctx context.Context, q *ent.UserQuery, p userPage) (*ent.UserConnection, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	conn := &ent.UserConnection{Edges: []*ent.UserEdge{}}
	sel := connectionSelection(ctx)
	if sel.totalCount {
		n, err := q.Clone().Count(ctx)
		if err != nil {
			return nil, apperr.Internal(fmt.Errorf("counting users: %w", err))
		}
		conn.TotalCount = n
	}
	if !sel.edges && !sel.pageInfo {
		return conn, nil
	}

	column, nullable := p.orderColumn()
	dir, backward := p.direction(), p.last != nil
	if p.after != nil {
		q.Where(beyond(p.after, column, nullable, dir))
	}
	if p.before != nil {
		q.Where(beyond(p.before, column, nullable, dir.Reverse()))
	}
	scan := dir
	if backward { // read from the end, then put the page back in order
		scan = dir.Reverse()
	}
	switch column {
	case user.FieldCreatedAt:
		q.Order(user.ByCreatedAt(scan.OrderTermOption()))
	case user.FieldLastLoginAt:
		q.Order(user.ByLastLoginAt(scan.OrderTermOption()))
	}
	q.Order(user.ByID(scan.OrderTermOption()))
	n := PageSize(p.first, p.last)
	if n == 0 {
		return conn, nil
	}
	withUserEdges(q, sel.node)
	nodes, err := q.Limit(n + 1).All(ctx)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("listing users: %w", err))
	}
	more := len(nodes) > n
	if more {
		nodes = nodes[:n]
	}
	if backward {
		slices.Reverse(nodes)
		conn.PageInfo.HasPreviousPage = more || p.after != nil
		conn.PageInfo.HasNextPage = p.before != nil
	} else {
		conn.PageInfo.HasNextPage = more || p.before != nil
		conn.PageInfo.HasPreviousPage = p.after != nil
	}
	conn.Edges = make([]*ent.UserEdge, len(nodes))
	for i, u := range nodes {
		conn.Edges[i] = &ent.UserEdge{Node: u, Cursor: p.cursor(u)}
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, nil
}

// connectionFields says what a query selects of a connection.
type connectionFields struct {
	totalCount, pageInfo, edges bool
	// node is what it selects of edges.node, merged over aliases.
	node userFields
}

// userFields says which edges a selection of a User needs loaded.
type userFields struct {
	openIDs, unionID bool
}

// connectionSelection reads the selection of the connection field being
// resolved (fragments, aliases, @skip and @include applied).
func connectionSelection(ctx context.Context) connectionFields {
	var out connectionFields
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		// Not called from a GraphQL field: everything.
		return connectionFields{totalCount: true, pageInfo: true, edges: true, node: userFields{true, true}}
	}
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(opCtx, fc.Field.Selections, []string{"UserConnection"}) {
		switch f.Name {
		case "totalCount":
			out.totalCount = true
		case "pageInfo":
			out.pageInfo = true
		case "edges":
			out.edges = true
			for _, e := range graphql.CollectFields(opCtx, f.Selections, []string{"UserEdge"}) {
				if e.Name == "node" {
					out.node.merge(selectedUserFields(opCtx, e.Selections))
				}
			}
		}
	}
	return out
}

// selectedUserFields reads a selection of a User (or a Node that may be
// one).
func selectedUserFields(opCtx *graphql.OperationContext, sel ast.SelectionSet) userFields {
	var out userFields
	for _, f := range graphql.CollectFields(opCtx, sel, []string{"User", "Node"}) {
		switch f.Name {
		case "openIds":
			out.openIDs = true
		case "unionId":
			out.unionID = true
		}
	}
	return out
}

func (u *userFields) merge(o userFields) {
	u.openIDs = u.openIDs || o.openIDs
	u.unionID = u.unionID || o.unionID
}

// withUserEdges eager-loads the edges the selection resolves, so a page
// costs one query per edge instead of one per user and edge. The User
// resolvers of openIds and unionId use loaded edges.
func withUserEdges(q *ent.UserQuery, f userFields) {
	if f.openIDs {
		q.WithOpenIds(func(oq *ent.OpenIDQuery) {
			// Not the sealed session_key: it has no business here.
			oq.Select(openid.FieldUserID, openid.FieldAppid, openid.FieldOpenid).Order(openid.ByID())
		})
	}
	if f.unionID {
		q.WithUnionID()
	}
}

// loadNodes resolves node and nodes: users (with the edges the selection
// needs, loaded in one query each) and sessions, in the order of ids; nil
// for an ID that names neither.
func loadNodes(ctx context.Context, db *ent.Client, ids []int) ([]ent.Noder, error) {
	out := make([]ent.Noder, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var fields userFields
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		fields = selectedUserFields(graphql.GetOperationContext(ctx), fc.Field.Selections)
	}
	q := db.User.Query().Where(user.IDIn(ids...))
	withUserEdges(q, fields)
	users, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading user nodes: %w", err)
	}
	found := make(map[int]ent.Noder, len(ids))
	for _, u := range users {
		found[u.ID] = u
	}
	var rest []int
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		sessions, err := db.Session.Query().Where(entsession.IDIn(rest...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading session nodes: %w", err)
		}
		for _, s := range sessions {
			found[s.ID] = s
		}
	}
	for i, id := range ids {
		if n, ok := found[id]; ok {
			out[i] = n
		}
	}
	return out, nil
}
