// Package resolvers implements wxid's GraphQL schema. Resolvers validate
// input, call one domain function and map its result; business rules live
// in the domain packages (identity, users, session, phone, ...).
package resolvers

import (
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/identity"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/profile"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/stats"
	"github.com/wxid/wxid/users"
)

// Resolver is the root resolver: the dependencies every resolver shares.
type Resolver struct {
	// Identity logs users in.
	Identity *identity.Service
	// Accounts reads and administers users (Query.users is a resolver
	// method, hence not Users).
	Accounts *users.Service
	// Sessions issues, rotates and revokes skeys.
	Sessions *session.Manager
	// Phone verifies and stores phone numbers.
	Phone *phone.Service
	// Audit reads the audit trail.
	Audit *audit.Service
	// Profile changes nicknames and avatars.
	Profile *profile.Service
	// Stats answers the daily user statistics.
	Stats *stats.Service
}
