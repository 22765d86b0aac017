package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// DailyUserStats holds the figures of one calendar day (in
// WXID_STATS_TIMEZONE) for one mini-program, or for all of them: the
// background rollup (package stats) folds the audit trail's LOGIN and
// PHONE_VERIFIED events into it. It holds aggregates only, nothing about a
// person, so neither an erasure nor the audit trail's retention touches it.
type DailyUserStats struct {
	ent.Schema
}

// Fields of the DailyUserStats.
func (DailyUserStats) Fields() []ent.Field {
	return []ent.Field{
		field.String("day").
			NotEmpty().MaxLen(10).Immutable().
			Comment("The calendar day, YYYY-MM-DD."),
		field.String("app_id").
			MaxLen(64).Immutable().
			Comment(`The appid, or "" for every app together.`),
		field.Int("signups").
			Default(0).
			Comment("Users created by a login that day (in the app: by a login in it)."),
		field.Int("active_users").
			Default(0).
			Comment("Users who logged in that day (in the app: app accounts that logged in to it)."),
		field.Int("phone_verified").
			Default(0).
			Comment("Successful phone number verifications that day."),
	}
}

// Indexes of the DailyUserStats.
func (DailyUserStats) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("app_id", "day").Unique(),
	}
}

// Annotations of the DailyUserStats.
func (DailyUserStats) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Annotation{Table: "daily_user_stats"},
		entgql.Skip(entgql.SkipAll),
	}
}

// RollupCursor is how far a background rollup has folded the audit trail:
// the ID of the last event it folded. The rollup advances it in the
// transaction that adds the events' figures, only from the value it
// started from, so that two instances never fold an event twice.
type RollupCursor struct {
	ent.Schema
}

// Fields of the RollupCursor.
func (RollupCursor) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty().MaxLen(32).Unique().Immutable().
			Comment("Which rollup: daily_user_stats."),
		field.Int("event_id").
			Default(0).
			Comment("The ID of the last audit event folded."),
		field.Time("updated_at").
			Default(now).UpdateDefault(now),
	}
}

// Annotations of the RollupCursor.
func (RollupCursor) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipAll),
	}
}
