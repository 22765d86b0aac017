package users

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/user"
)

// The shape of `where`.
//
// A filter is priced by its shape before any SQL runs, so that what cannot
// be served by an index at millions of users is refused with
// BAD_USER_INPUT and a message saying what to ask instead:
//
//   - a match inside a string (…Contains, …ContainsFold, …EqualFold,
//     …HasSuffix) reads every row: no index serves it. Exact values and
//     prefixes (…HasPrefix) use the indexes; the last digits of a phone
//     number have an index of their own (phoneNumberEndsWith).
//   - an edge predicate (hasOpenIdsWith, hasUnionIDWith, hasOpenIds,
//     hasUnionID) inside another edge predicate: the join goes back and
//     forth between the tables for every row.
//   - an edge predicate inside `or` or `not`: neither can use the edge's
//     index, so every user is tested. Run one query per alternative.
//   - more than MaxWhereDepth levels of not/and/or/edges, or more than
//     MaxWhereInputs input objects in all.

const (
	// MaxWhereDepth is how deep `where` may nest not, and, or and edge
	// predicates.
	MaxWhereDepth = 4
	// MaxWhereInputs is how many input objects (the top one, each not,
	// and, or item and edge predicate) one `where` may hold.
	MaxWhereInputs = 32
)

// unindexedMatches are the suffixes of the generated where fields that
// match inside a string.
var unindexedMatches = []string{"ContainsFold", "Contains", "EqualFold", "HasSuffix"}

// CheckWhere refuses a `where` whose shape no index serves (see above),
// with BAD_USER_INPUT.
func CheckWhere(w *ent.UserWhereInput) error {
	if w == nil {
		return nil
	}
	c := whereCheck{}
	return c.walk(reflect.ValueOf(w), "where", 1, false, false)
}

type whereCheck struct{ inputs int }

// walk checks one input object (a pointer to a generated *WhereInput).
func (c *whereCheck) walk(v reflect.Value, path string, depth int, inEdge, inOrNot bool) error {
	if v.IsNil() {
		return nil
	}
	c.inputs++
	if c.inputs > MaxWhereInputs {
		return apperr.BadInput("where holds more than %d conditions: split the search", MaxWhereInputs)
	}
	if depth > MaxWhereDepth {
		return apperr.BadInput("%s: where nests deeper than %d levels of not/and/or/has…With: flatten the conditions", path, MaxWhereDepth)
	}
	s := v.Elem()
	t := s.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), s.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || fv.IsZero() {
			continue
		}
		at := path + "." + name
		switch {
		case name == "not":
			if err := c.walk(fv, at, depth+1, inEdge, true); err != nil {
				return err
			}
		case name == "or" || name == "and":
			for j := range fv.Len() {
				if err := c.walk(fv.Index(j), fmt.Sprintf("%s[%d]", at, j), depth+1, inEdge, inOrNot || name == "or"); err != nil {
					return err
				}
			}
		case strings.HasPrefix(name, "has") && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Pointer && fv.Elem().Kind() == reflect.Bool):
			if inEdge {
				return apperr.BadInput("%s: an edge predicate inside another one reads the tables back and forth for every row: put the user's own conditions at the top of where", at)
			}
			if inOrNot {
				return apperr.BadInput("%s: an edge predicate inside or/not cannot use an index: run one query per alternative", at)
			}
			if fv.Kind() == reflect.Slice {
				for j := range fv.Len() {
					if err := c.walk(fv.Index(j), fmt.Sprintf("%s[%d]", at, j), depth+1, true, false); err != nil {
						return err
					}
				}
			}
		default:
			for _, m := range unindexedMatches {
				if strings.HasSuffix(f.Name, m) {
					return apperr.BadInput("%s matches inside the value, which no index serves (every row would be read): search by the exact value or a prefix (…HasPrefix); for the last digits of a phone number use phoneNumberEndsWith", at)
				}
			}
		}
	}
	return nil
}

// PhoneNumberEndsWith narrows w to the users whose phone number ends with
// digits (database.PhoneSuffixLen of them or more): the index on
// phone_suffix finds the candidates, the full suffix is then compared on
// those few rows. nil leaves w as it is.
func PhoneNumberEndsWith(w *ent.UserWhereInput, digits *string) error {
	if digits == nil {
		return nil
	}
	d := *digits
	if len(d) < database.PhoneSuffixLen || len(d) > 32 || strings.Trim(d, "0123456789") != "" {
		return apperr.BadInput("phoneNumberEndsWith takes %d to 32 digits", database.PhoneSuffixLen)
	}
	w.AddPredicates(user.PhoneSuffix(database.PhoneSuffix(d)), user.PhoneNumberHasSuffix(d))
	return nil
}

// broadEdges reports whether w filters by an edge predicate that matches
// many rows (any openid of an app, having a unionid at all) rather than
// one (an openid, a unionid): a page of such a filter is read with
// database.FirstMatch. Edge predicates sit only at the top of w or under
// `and` (CheckWhere).
func broadEdges(w *ent.UserWhereInput) bool {
	if w == nil {
		return false
	}
	if w.HasOpenIds != nil || w.HasUnionID != nil {
		return true
	}
	for _, o := range w.HasOpenIdsWith {
		if o != nil && o.Openid == nil && len(o.OpenidIn) == 0 && o.ID == nil && len(o.IDIn) == 0 {
			return true
		}
	}
	for _, u := range w.HasUnionIDWith {
		if u != nil && u.Unionid == nil && len(u.UnionidIn) == 0 && u.ID == nil && len(u.IDIn) == 0 {
			return true
		}
	}
	for _, a := range w.And {
		if broadEdges(a) {
			return true
		}
	}
	return false
}
