package database

import (
	"context"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/hook"
)

// PhoneSuffixLen is how many of a phone number's last characters
// users.phone_suffix keeps: what support staff search by.
const PhoneSuffixLen = 4

// PhoneSuffix returns what users.phone_suffix holds for a phone number.
func PhoneSuffix(phone string) string {
	if len(phone) <= PhoneSuffixLen {
		return phone
	}
	return phone[len(phone)-PhoneSuffixLen:]
}

// phoneSuffixHook keeps users.phone_suffix in step with phone_number on
// every write through ent, whoever makes it.
func phoneSuffixHook(next ent.Mutator) ent.Mutator {
	return hook.UserFunc(func(ctx context.Context, m *ent.UserMutation) (ent.Value, error) {
		if phone, ok := m.PhoneNumber(); ok {
			m.SetPhoneSuffix(PhoneSuffix(phone))
		}
		if m.PhoneNumberCleared() {
			m.ClearPhoneSuffix()
		}
		return next.Mutate(ctx, m)
	})
}

// versionHook adds one to users.version on every update of users through
// ent, whoever makes it, so that a cached view of a user can be compared
// with the row it was read from (package users: the view cache). A new
// user starts at 1. A write of users outside ent (a Batch) must add one
// itself.
func versionHook(next ent.Mutator) ent.Mutator {
	return hook.UserFunc(func(ctx context.Context, m *ent.UserMutation) (ent.Value, error) {
		if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
			if _, set := m.Version(); !set {
				m.AddVersion(1)
			}
		}
		return next.Mutate(ctx, m)
	})
}
