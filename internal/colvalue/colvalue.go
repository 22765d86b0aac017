// Package colvalue reads the extra columns that a query modifier selects
// beside an ent node's own (ent keeps them as the node's Value(name)), in
// the types the MySQL and SQLite drivers scan them into.
package colvalue

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"entgo.io/ent"
)

// Node is an ent node with extra selected columns.
type Node interface {
	Value(name string) (ent.Value, error)
}

// Has reports whether the query selected column.
func Has(n Node, column string) bool {
	_, err := n.Value(column)
	return err == nil
}

// String returns column as a string; "" when absent or NULL.
func String(n Node, column string) string {
	v, _ := n.Value(column)
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case *sql.NullString:
		return v.String
	}
	return ""
}

// Int returns column as an int.
func Int(n Node, column string) (int, error) {
	v, _ := n.Value(column)
	if valuer, ok := v.(driver.Valuer); ok {
		var err error
		if v, err = valuer.Value(); err != nil {
			return 0, err
		}
	}
	switch v := v.(type) {
	case int64:
		return int(v), nil
	case int:
		return v, nil
	case []byte:
		var n int
		_, err := fmt.Sscan(string(v), &n)
		return n, err
	}
	return 0, fmt.Errorf("column %s is %T, not an integer", column, v)
}

// Time returns column as a time; the zero time when absent or NULL.
func Time(n Node, column string) time.Time {
	v, _ := n.Value(column)
	switch v := v.(type) {
	case time.Time:
		return v
	case *sql.NullTime:
		return v.Time
	case string:
		return parseTime(v)
	case []byte:
		return parseTime(string(v))
	}
	return time.Time{}
}

// timeLayouts are how the SQLite driver writes times, which it returns as
// text for a column selected under another name.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999",
}

// parseTime reads a time the driver returned as text; the zero time when
// it is none.
func parseTime(s string) time.Time {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
