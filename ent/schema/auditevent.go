package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEvent records who did what to which user, written in the same
// transaction as the change it records. It holds nothing that identifies
// the person beyond the user's ID: no openid, phone number or user agent.
// The client IP is kept until the user is erased (then cleared) or the
// event reaches WXID_AUDIT_RETENTION.
type AuditEvent struct {
	ent.Schema
}

// AuditKinds are the kinds of audit events, AuditEventKind in GraphQL.
var AuditKinds = []string{
	"LOGIN", "LOGOUT", "SESSION_REVOKED", "PHONE_VERIFIED", "PROFILE_UPDATED",
	"USER_DISABLED", "USER_ENABLED", "USER_ERASED", "ACCOUNT_DELETED", "USERS_MERGED", "DATA_EXPORTED",
}

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").
			Values(AuditKinds...).
			Immutable().
			Annotations(entgql.Type("AuditEventKind")),
		field.Time("at").
			Default(now).Immutable().
			Annotations(entgql.OrderField("AT")),
		field.Int("user_id").
			Optional().Nillable().Immutable().
			Comment("The user the event is about; no foreign key, so that the event outlives an erased or merged user.").
			Annotations(entgql.Skip(entgql.SkipType), entgql.Type("ID")),
		field.String("actor").
			NotEmpty().MaxLen(80).Immutable().
			Comment(`Who acted: "user:<id>", "admin:<token label>" or "system"; never a token.`),
		field.String("client_ip").
			Optional().Nillable().MaxLen(64).
			Comment("The acting client's address; cleared when the user is erased.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Bool("new_user").
			Default(false).Immutable().
			Comment("On LOGIN: the login created the user (a signup)."),
		field.Int("other_user_id").
			Optional().Nillable().Immutable().
			Comment("The other user involved: the user holding the unionid a LOGIN conflicted with, or the merged user of USERS_MERGED.").
			Annotations(entgql.Skip(entgql.SkipType), entgql.Type("ID")),
		field.Int("count").
			Optional().Nillable().Immutable().
			Comment("How many sessions a LOGOUT, SESSION_REVOKED or USER_DISABLED ended; on a DATA_EXPORTED without a user (a segment export, POST /admin/export/users), how many users it sent.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.String("app_id").
			Optional().Nillable().MaxLen(64).Immutable().
			Comment("On LOGIN and PHONE_VERIFIED: the mini-program's appid (daily user statistics per app).").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("first_of_day").
			Default(false).Immutable().
			Comment("On LOGIN: the user's first login of the calendar day (WXID_STATS_TIMEZONE), decided under the user's row lock.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("first_in_app_of_day").
			Default(false).Immutable().
			Comment("On LOGIN: the first login of the calendar day through this openid (app account), decided under its row lock.").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("at"),
		index.Fields("user_id", "at"),
		index.Fields("kind", "at"),
	}
}

// Annotations of the AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("auditEvents").
			Description("Audit events, for support and compliance (admin token only), oldest first unless orderBy says otherwise. " +
				"At most 100 per page: first or last above it is BAD_USER_INPUT; with neither, the first 100. " +
				"Filter with where: userID, kind, at (time range), otherUserIDNotNil (unionid conflicts and merges).").
			Directives(adminDirective),
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
