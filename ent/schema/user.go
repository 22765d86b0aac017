package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is one person as wxid knows them: one row per person, however many
// mini-programs (OpenIDs) and open-platform accounts (UnionID) they use.
type User struct {
	ent.Schema
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("phone_number").
			Optional().Nillable().MaxLen(32).
			Comment("Verified phone number with country prefix, as WeChat returns it (for example +8613800138000)."),
		field.String("pure_phone_number").
			Optional().Nillable().MaxLen(32).
			Comment("Verified phone number without the country code."),
		field.String("country_code").
			Optional().Nillable().MaxLen(8).
			Comment("Country calling code of the phone number, without +."),
		field.String("phone_suffix").
			Optional().Nillable().MaxLen(8).
			Comment("The last digits of phone_number, kept by a hook on every write (package database), so that a search by the last digits (phoneNumberEndsWith) uses an index.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("phone_verified_at").
			Optional().Nillable().
			Comment("When WeChat last vouched for the phone number."),
		field.String("nickname").
			Optional().Nillable().MaxLen(128).
			Comment("The name the user chose (updateProfile), checked by WeChat's content security.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.String("avatar_url").
			Optional().Nillable().MaxLen(1024).
			Comment("The user's avatar: an https URL (updateProfile).").
			Annotations(entgql.Skip(entgql.SkipWhereInput, entgql.SkipType)),
		field.Time("created_at").
			Default(now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").
			Default(now).UpdateDefault(now),
		field.Int64("version").
			Default(1).
			Comment("Counts the writes of the user, its unionid and its openids: a hook adds one on every update (package database), so that a cached view older than a write is told apart even within the same second.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("last_login_at").
			Optional().Nillable().
			Annotations(entgql.OrderField("LAST_LOGIN_AT")),
		field.Bool("disabled").
			Default(false).
			Comment("A disabled user cannot log in and its sessions are refused."),
		field.Int("merged_into_id").
			Optional().Nillable().
			Comment("The user this one was merged into (mergeUsers); its ID no longer resolves.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("erased_at").
			Optional().Nillable().
			Comment("When the user was erased (deleteMyAccount, eraseUser): the row stays, disabled and empty, so that its revoked sessions reach every instance.").
			Annotations(entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField), entgql.Directives(adminDirective)),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("union_id", UnionID.Type).
			Unique().
			// Exposed as the scalar User.unionId by hand; the edge stays
			// available for UserWhereInput (hasUnionIDWith).
			Annotations(entgql.Skip(entgql.SkipType)),
		edge.To("open_ids", OpenID.Type).
			// Exposed as User.openIds: [OpenID!]! by hand.
			Annotations(entgql.Skip(entgql.SkipType)),
		edge.To("sessions", Session.Type).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("phone_number"),
		index.Fields("pure_phone_number"),
		index.Fields("phone_suffix"),
		index.Fields("disabled"),
		index.Fields("created_at"),
		index.Fields("last_login_at"),
		// The user view feed: the users written since a time, with their
		// versions, from the index alone.
		index.Fields("updated_at", "version"),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField().
			Description("Users, for admin dashboards (admin token only). At most 100 per page: " +
				"first or last above it is BAD_USER_INPUT; with neither, the first 100. " +
				"totalCount counts the users `where` selects up to 1,000 (1,001 and totalCountIsExact false beyond). Sorted by id unless orderBy says otherwise, " +
				"ties broken by id in the same direction; a user who never logged in sorts before every LAST_LOGIN_AT.").
			Directives(adminDirective),
		entgql.RelayConnection(),
	}
}
