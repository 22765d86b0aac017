package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// UnionID is an open-platform unionid. One WeChat person has the same
// unionid in every app bound to one open-platform account, so it ties the
// person's OpenIDs in those apps to one User.
type UnionID struct {
	ent.Schema
}

// Fields of the UnionID.
func (UnionID) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.String("unionid").
			NotEmpty().MaxLen(128).Unique().Immutable(),
		field.Time("created_at").
			Default(now).Immutable(),
	}
}

// Edges of the UnionID.
func (UnionID) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("union_id").
			Field("user_id").
			Unique().Required(),
	}
}

// Annotations of the UnionID.
func (UnionID) Annotations() []schema.Annotation {
	return []schema.Annotation{
		// Only its where input is public (User.hasUnionIDWith); the value
		// itself is User.unionId.
		entgql.Skip(entgql.SkipType, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
