package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// shape is one admin query shape: a GraphQL document and its variables.
type shape struct {
	name  string
	query string
	vars  map[string]any
}

// shapes returns every admin query shape the scale run times, naming users
// and values the synthetic data holds.
func shapes(o loadOptions, cursor string) []shape {
	t := o.users / 2
	for t < o.users-1 && !every(t, o.phones) {
		t++
	}
	u := o.users / 3
	for u < o.users-1 && !every(u, o.unionIDs) {
		u++
	}
	ids := make([]string, 0, 40)
	for i := range 40 {
		ids = append(ids, fmt.Sprint(userID(i*max(o.users/40, 1))))
	}
	nested := func(depth int) string {
		w := "{disabled:true}"
		for range depth {
			w = "{hasOpenIdsWith:[{hasUserWith:[" + w + "]}]}"
		}
		return w
	}
	phone := "+86" + purePhone(t)
	app := appID(t % max(o.apps, 1))
	return []shape{
		{"page of 40 (first page) + totalCount", `{ users(first:40){ totalCount totalCountIsExact edges{ node{ id lastLoginAt } } pageInfo{ endCursor } } }`, nil},
		{"page of 40 after a cursor + totalCount", `query($c:Cursor){ users(first:40, after:$c){ totalCount edges{ node{ id } } } }`, map[string]any{"c": cursor}},
		{"page of 40, no totalCount", `query($c:Cursor){ users(first:40, after:$c){ edges{ node{ id } } pageInfo{ hasNextPage endCursor } } }`, map[string]any{"c": cursor}},
		{"page of 40 by lastLoginAt DESC", `{ users(first:40, orderBy:{field:LAST_LOGIN_AT, direction:DESC}){ edges{ node{ id } } } }`, nil},
		{"users of one app: totalCount", `query($a:String!){ users(first:0, where:{hasOpenIdsWith:[{appid:$a}]}){ totalCount } }`, map[string]any{"a": app}},
		{"users of one app: page of 40", `query($a:String!){ users(first:40, where:{hasOpenIdsWith:[{appid:$a}]}){ edges{ node{ id } } } }`, map[string]any{"a": app}},
		{"openid alone", `query($o:String!){ users(first:20, where:{hasOpenIdsWith:[{openid:$o}]}){ edges{ node{ id } } } }`, map[string]any{"o": openIDOf(t, t%max(o.apps, 1))}},
		{"appid + openid", `query($a:String!,$o:String!){ users(first:20, where:{hasOpenIdsWith:[{appid:$a, openid:$o}]}){ edges{ node{ id } } } }`, map[string]any{"a": app, "o": openIDOf(t, t%max(o.apps, 1))}},
		{"unionid", `query($u:String!){ users(first:20, where:{hasUnionIDWith:[{unionid:$u}]}){ edges{ node{ id } } } }`, map[string]any{"u": unionIDOf(u)}},
		{"phoneNumber exact", `query($p:String!){ users(first:20, where:{phoneNumber:$p}){ edges{ node{ id } } } }`, map[string]any{"p": phone}},
		{"phoneNumber or unionid", `query($p:String!,$u:String!){ users(first:20, where:{or:[{phoneNumber:$p},{hasUnionIDWith:[{unionid:$u}]}]}){ edges{ node{ id } } } }`, map[string]any{"p": phone, "u": unionIDOf(u)}},
		{"phoneNumberContains last 4", `query($p:String!){ users(first:20, where:{phoneNumberContains:$p}){ edges{ node{ id } } } }`, map[string]any{"p": phone[len(phone)-4:]}},
		{"phoneNumberHasSuffix last 4", `query($p:String!){ users(first:20, where:{phoneNumberHasSuffix:$p}){ edges{ node{ id } } } }`, map[string]any{"p": phone[len(phone)-4:]}},
		{"phoneNumberEndsWith last 4", `query($p:String!){ users(first:20, where:{phoneNumberEndsWith:$p}){ edges{ node{ id } } } }`, map[string]any{"p": phone[len(phone)-4:]}},
		{"phoneNumberEndsWith last 6", `query($p:String!){ users(first:20, where:{phoneNumberEndsWith:$p}){ edges{ node{ id } } } }`, map[string]any{"p": phone[len(phone)-6:]}},
		{"disabled:false totalCount", `{ users(first:0, where:{disabled:false}){ totalCount } }`, nil},
		{"disabled:true page of 40", `{ users(first:40, where:{disabled:true}){ edges{ node{ id } } } }`, nil},
		{"4 nested edge predicates", `{ users(first:20, where:` + nested(2) + `){ totalCount edges{ node{ id } } } }`, nil},
		{"7 nested edge predicates", `{ users(first:20, where:` + nested(4) + `){ totalCount edges{ node{ id } } } }`, nil},
		{"activeSessions on a page of 40", `{ users(first:40){ edges{ node{ id activeSessions{ id expiresAt } } } } }`, nil},
		{"nodes: 40 users with openIds", `query($ids:[ID!]!){ nodes(ids:$ids){ id ... on User { openIds{ appId openId } unionId } } }`, map[string]any{"ids": ids}},
		{"node: one user", `query($id:ID!){ node(id:$id){ id ... on User { phoneNumber lastLoginAt } } }`, map[string]any{"id": ids[len(ids)/2]}},
	}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// post runs one GraphQL request with the admin token.
func (e *env) post(ctx context.Context, query string, vars map[string]any) (*gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.wxidURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	return &out, nil
}

// measure prints one line per shape: p50, p99 and statements a run, or the
// error code of a refused shape.
func measure(ctx context.Context, e *env, o options) error {
	first, err := e.post(ctx, `{ users(first:40){ pageInfo{ endCursor } } }`, nil)
	if err != nil {
		return fmt.Errorf("reading a cursor: %w", err)
	}
	var page struct {
		Users struct {
			PageInfo struct {
				EndCursor string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"users"`
	}
	if err := json.Unmarshal(first.Data, &page); err != nil || page.Users.PageInfo.EndCursor == "" {
		return fmt.Errorf("reading a cursor: %v %+v", err, first.Errors)
	}
	fmt.Printf("%-40s %9s %9s %6s  %s\n", "shape", "p50", "p99", "stmts", "result")
	for _, s := range append(shapes(o.load, page.Users.PageInfo.EndCursor), statsShapes(o.load)...) {
		var took []time.Duration
		var result string
		before := e.counter.Read(ctx)
		for i := range max(o.samples, 1) {
			start := time.Now()
			r, err := e.post(ctx, s.query, s.vars)
			took = append(took, time.Since(start))
			switch {
			case err != nil:
				result = "error: " + err.Error()
			case len(r.Errors) > 0:
				msg := r.Errors[0].Message
				if len(msg) > 90 {
					msg = msg[:90] + "…"
				}
				result = r.Errors[0].Extensions.Code + ": " + msg
			default:
				result = "ok " + summary(r.Data)
			}
			if took[0] > o.slow && i >= 2 {
				break
			}
		}
		after := e.counter.Read(ctx)
		stmts := "-"
		if e.counter.OK() {
			stmts = fmt.Sprintf("%.1f", float64(after.Total()-before.Total())/float64(len(took)))
		}
		fmt.Printf("%-40s %9s %9s %6s  %s\n", s.name, ms(percentile(took, 50)), ms(percentile(took, 99)), stmts, result)
	}
	return nil
}

// summary is what a successful answer holds: its totalCount and how many
// edges or nodes.
func summary(data json.RawMessage) string {
	var d map[string]struct {
		TotalCount *int              `json:"totalCount"`
		Edges      []json.RawMessage `json:"edges"`
	}
	if json.Unmarshal(data, &d) == nil {
		for _, v := range d {
			var parts []string
			if v.TotalCount != nil {
				parts = append(parts, fmt.Sprintf("totalCount=%d", *v.TotalCount))
			}
			if v.Edges != nil {
				parts = append(parts, fmt.Sprintf("edges=%d", len(v.Edges)))
			}
			return strings.Join(parts, " ")
		}
	}
	var l map[string][]json.RawMessage
	if json.Unmarshal(data, &l) == nil {
		for _, v := range l {
			return fmt.Sprintf("nodes=%d", len(v))
		}
	}
	return ""
}

func percentile(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
