package resolvers_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/wxid/wxid/graph"
	"github.com/wxid/wxid/resolvers"
)

// publicFields are the fields anyone may call, each deciding for itself
// whether it needs a user (UNAUTHENTICATED). Every other field of Query and
// Mutation must be @admin: a new operation is admin-only until someone
// adds it here on purpose.
var publicFields = map[string][]string{
	"Query":    {"me", "mySessions", "exportMyData"},
	"Mutation": {"login", "refreshSession", "logout", "decryptPhoneNumber", "revokeMySession", "logoutEverywhere", "updateProfile", "deleteMyAccount"},
	// User is what `me` shows a user about itself; anything else about a
	// user is for admins.
	"User": {
		"id", "unionId", "phoneNumber", "purePhoneNumber", "countryCode", "phoneVerifiedAt",
		"openIds", "createdAt", "updatedAt", "lastLoginAt", "disabled", "nickname", "avatarUrl",
	},
}

// adminFields must stay @admin (the test fails if they disappear, so a
// rename is noticed).
var adminFields = map[string][]string{
	"Query":    {"node", "nodes", "users", "auditEvents"},
	"Mutation": {"disableUser", "enableUser", "revokeUserSessions", "eraseUser", "exportUser", "mergeUsers"},
	"User":     {"activeSessions", "erasedAt"},
}

func TestSchemaAdminDirective(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}).Schema()
	require.NotNil(t, schema.Directives["admin"], "the @admin directive is declared")

	for _, typeName := range []string{"Query", "Mutation", "User"} {
		t.Run(typeName, func(t *testing.T) {
			def := schema.Types[typeName]
			require.NotNil(t, def)
			var admin []string
			for _, f := range def.Fields {
				if isIntrospection(f) {
					continue
				}
				if f.Directives.ForName("admin") != nil {
					admin = append(admin, f.Name)
					require.NotContains(t, publicFields[typeName], f.Name, "%s.%s is both public and @admin", typeName, f.Name)
					continue
				}
				require.Contains(t, publicFields[typeName], f.Name,
					"%s.%s has no @admin: add the directive, or list it in publicFields if anyone may call it", typeName, f.Name)
			}
			sort.Strings(admin)
			want := slices.Clone(adminFields[typeName])
			sort.Strings(want)
			for _, f := range want {
				require.Contains(t, admin, f, "%s.%s must be @admin", typeName, f)
			}
		})
	}
}

// ownSessionFields return Session without @admin because they list only the
// caller's own sessions (app/lifecycle_test.go checks that another user's
// never show).
var ownSessionFields = []string{"Query.mySessions"}

// TestSchemaSessionOnlyForAdmins: Session (client IPs, user agents) is
// reachable only through @admin fields, and the caller's own through
// ownSessionFields.
func TestSchemaSessionOnlyForAdmins(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}).Schema()
	for _, def := range schema.Types {
		if def.BuiltIn || (def.Kind != ast.Object && def.Kind != ast.Interface) {
			continue
		}
		for _, f := range def.Fields {
			if slices.Contains(ownSessionFields, def.Name+"."+f.Name) {
				continue
			}
			if f.Type.Name() == "Session" || (f.Type.Name() == "Node" && def.Name == "Query") {
				require.NotNil(t, f.Directives.ForName("admin"), "%s.%s returns %s without @admin", def.Name, f.Name, f.Type.Name())
			}
		}
	}
}

func isIntrospection(f *ast.FieldDefinition) bool {
	return len(f.Name) > 1 && f.Name[:2] == "__"
}
