package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// OpenID is a user's identity in one mini-program: (appid, openid) is
// unique. It holds the newest WeChat session_key for that app account,
// encrypted at rest.
type OpenID struct {
	ent.Schema
}

// Fields of the OpenID.
func (OpenID) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.String("appid").
			NotEmpty().MaxLen(64).Immutable(),
		field.String("openid").
			NotEmpty().MaxLen(128).
			Comment(`Never changes, except that erasing the user replaces it with "erased:<id>".`),
		field.Bytes("session_key").
			Optional().Sensitive().MaxLen(256).
			Comment("WeChat's session_key, AES-256-GCM sealed with WXID_SECRET_KEY.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("created_at").
			Default(now).Immutable(),
		field.Time("updated_at").
			Default(now).UpdateDefault(now),
		field.Time("last_login_at").
			Optional().Nillable().
			Comment("The last login through this app account: the daily statistics' first login of the day in the app.").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the OpenID.
func (OpenID) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("open_ids").
			Field("user_id").
			Unique().Required(),
		edge.To("sessions", Session.Type).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the OpenID.
func (OpenID) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("appid", "openid").Unique(),
		// An openid alone, as support staff paste it without its app.
		index.Fields("openid"),
		// SQLite does not index foreign keys by itself.
		index.Fields("user_id"),
	}
}

// Annotations of the OpenID.
func (OpenID) Annotations() []schema.Annotation {
	return []schema.Annotation{
		// The GraphQL type OpenID { appId openId } is written by hand;
		// entgql contributes only OpenIDWhereInput (User.hasOpenIdsWith).
		entgql.Skip(entgql.SkipType, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
