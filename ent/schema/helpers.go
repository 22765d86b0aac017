// Package schema holds wxid's ent schema: the data model (see docs/api.md).
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
)

// adminDirective marks a GraphQL field that only admin tokens may use.
var adminDirective = entgql.NewDirective("admin")

// now is the default for timestamps; UTC so SQLite and MySQL agree.
func now() time.Time { return time.Now().UTC() }
