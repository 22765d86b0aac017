// Package resolvers implements wxid's GraphQL schema. Resolvers validate
// input, call one domain function and map its result; business rules live
// in the domain packages (identity, session, wechat, ...).
package resolvers

import (
	"log/slog"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/identity"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/session"
)

// Resolver is the root resolver: the dependencies every resolver shares.
type Resolver struct {
	// Client is the ent client.
	Client *ent.Client
	// Identity logs users in and manages them.
	Identity *identity.Service
	// Sessions issues, rotates and revokes skeys.
	Sessions *session.Manager
	// Phone verifies and stores phone numbers.
	Phone *phone.Service
	// Log is the server log.
	Log *slog.Logger
}
