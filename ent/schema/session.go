package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Session is one wxid login: the skey a client holds, stored only as its
// SHA-256. MySQL is the source of truth; memcached caches it by hash.
type Session struct {
	ent.Schema
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("open_id_id").
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		// Binary, not hex: 32 bytes instead of 64 characters, in the row
		// and again in its unique index.
		field.Bytes("token_hash").
			NotEmpty().MaxLen(32).Unique().Immutable().Sensitive().
			SchemaType(map[string]string{dialect.MySQL: "binary(32)"}).
			Comment("SHA-256 of the skey (32 bytes); the skey itself is never stored.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("family").
			NotEmpty().MaxLen(16).Immutable().
			SchemaType(map[string]string{dialect.MySQL: "binary(16)"}).
			Comment("16 random bytes identifying one login: every skey rotated from it by refreshSession shares them.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("created_at").
			Default(now).Immutable(),
		field.Time("expires_at").
			Comment("Idle expiry: the skey stops working at this time unless refreshed."),
		field.Time("absolute_expires_at").
			Immutable().
			Comment("Absolute expiry of the login the skey belongs to; refreshes never pass it."),
		field.Time("last_refreshed_at").
			Optional().Nillable(),
		field.Time("revoked_at").
			Optional().Nillable(),
		field.Time("rotated_at").
			Optional().Nillable().
			Comment("When refreshSession replaced this skey; it keeps working for the grace window after."),
		field.Bytes("successor_token").
			Optional().Sensitive().MaxLen(256).
			Comment("The replacing skey, sealed with WXID_SECRET_KEY, kept during the grace window so that concurrent refreshes agree.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("client_ip").
			Optional().MaxLen(64),
		field.String("user_agent").
			Optional().MaxLen(512),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.From("open_id", OpenID.Type).
			Ref("sessions").
			Field("open_id_id").
			Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
		// One index for a user's sessions (and the user_id foreign key:
		// SQLite does not index foreign keys by itself) and for one login
		// of a user (logout): one index fewer to store and to keep up on
		// every insert and delete than user_id and family apart.
		index.Fields("user_id", "family"),
		// The revocation feed polls sessions revoked since its last poll.
		index.Fields("revoked_at"),
	}
}

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{
		// Admins see sessions (never their tokens) through User.activeSessions.
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
