// Package audit writes and reads wxid's audit trail: who did what to which
// user, one audit_events row per change, written in the same transaction
// as the change so that neither exists without the other.
//
// An event names its actor as "user:<id>" (a user acting on itself),
// "admin:<label>" (an admin token, by its label in WXID_ADMIN_TOKENS, never
// the token) or "system" (wxid itself). The HTTP middleware puts the
// caller's actor and address in the request context (WithOrigin); Record
// fills them in unless the event names them.
//
// Events keep the user's ID and what happened, nothing that identifies the
// person; their client IP is cleared when the user is erased
// (ForgetClientIPs). Events older than the retention are deleted in small
// batches by Purge, which the background loop runs.
package audit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/auditevent"
)

// Kind is the kind of an event (AuditEventKind in GraphQL).
type Kind = auditevent.Kind

// The kinds of events.
const (
	Login          = auditevent.KindLOGIN
	Logout         = auditevent.KindLOGOUT
	SessionRevoked = auditevent.KindSESSION_REVOKED
	PhoneVerified  = auditevent.KindPHONE_VERIFIED
	ProfileUpdated = auditevent.KindPROFILE_UPDATED
	UserDisabled   = auditevent.KindUSER_DISABLED
	UserEnabled    = auditevent.KindUSER_ENABLED
	UserErased     = auditevent.KindUSER_ERASED
	AccountDeleted = auditevent.KindACCOUNT_DELETED
	UsersMerged    = auditevent.KindUSERS_MERGED
	DataExported   = auditevent.KindDATA_EXPORTED
)

// System is the actor of what wxid does by itself.
const System = "system"

// UserActor is the actor of a user acting on its own account.
func UserActor(userID int) string { return "user:" + strconv.Itoa(userID) }

// AdminActor is the actor of an admin token with the given label.
func AdminActor(label string) string { return "admin:" + label }

// Origin is who makes a request and from where, as the HTTP middleware
// knows it.
type Origin struct {
	// Actor is UserActor, AdminActor, or "" for an anonymous caller.
	Actor string
	// ClientIP is the caller's address.
	ClientIP string
}

type originKey struct{}

// WithOrigin returns ctx carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin WithOrigin stored in ctx; the zero Origin
// when there is none (background work).
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// Event is one audit event to record.
type Event struct {
	// Kind is what happened.
	Kind Kind
	// UserID is the user it happened to; 0 for none.
	UserID int
	// Actor is who did it; "" means the request's origin, else System.
	Actor string
	// ClientIP is the acting client's address; "" means the request's.
	ClientIP string
	// NoClientIP records no address at all (the event of a user erasing
	// itself, which must not keep the address it erased).
	NoClientIP bool
	// NewUser marks the LOGIN that created its user.
	NewUser bool
	// OtherUserID is the other user involved (a unionid conflict at login,
	// the merged user of a merge); 0 for none.
	OtherUserID int
	// Count is how many sessions the change ended, or how many users a
	// segment export sent (DATA_EXPORTED without a user); nil when it
	// ends none by nature.
	Count *int
	// AppID is the mini-program of a LOGIN or PHONE_VERIFIED; "" for none.
	AppID string
	// FirstOfDay marks the user's first LOGIN of the calendar day, and
	// FirstInAppOfDay its first through this app account: what the daily
	// user statistics count (package stats).
	FirstOfDay, FirstInAppOfDay bool
	// At is when; the zero time means now.
	At time.Time
}

// Record inserts e in tx: one INSERT, committed or rolled back with the
// change it records.
func Record(ctx context.Context, tx *ent.Tx, e Event) error {
	if err := create(ctx, tx.AuditEvent, e).Exec(ctx); err != nil {
		return fmt.Errorf("recording %s audit event: %w", e.Kind, err)
	}
	return nil
}

// AddLogin adds the INSERT of a LOGIN event e (Kind is set) to b, a
// login's batch of writes: it records the event only if the statement
// before it in b wrote (database.Batch.Wrote).
func AddLogin(ctx context.Context, b *database.Batch, e Event) {
	e.Kind = Login
	e = resolve(ctx, e)
	b.Add("INSERT INTO `audit_events` (`kind`, `at`, `actor`, `new_user`, `count`, `user_id`, `other_user_id`, `client_ip`, `app_id`, `first_of_day`, `first_in_app_of_day`) "+
		"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "+b.Constants()+" WHERE "+b.Wrote(),
		string(e.Kind), e.At, e.Actor, e.NewUser, nullable(e.Count), nullable(e.UserID), nullable(e.OtherUserID), nullable(e.ClientIP),
		nullable(e.AppID), e.FirstOfDay, e.FirstInAppOfDay)
}

// nullable is v as a statement argument: NULL for a nil pointer or a zero
// value.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	if p, ok := any(v).(*int); ok {
		return *p
	}
	return v
}

func create(ctx context.Context, c *ent.AuditEventClient, e Event) *ent.AuditEventCreate {
	e = resolve(ctx, e)
	q := c.Create().
		SetKind(e.Kind).
		SetAt(e.At).
		SetActor(e.Actor).
		SetNewUser(e.NewUser).
		SetNillableCount(e.Count).
		SetFirstOfDay(e.FirstOfDay).
		SetFirstInAppOfDay(e.FirstInAppOfDay)
	if e.AppID != "" {
		q.SetAppID(e.AppID)
	}
	if e.UserID != 0 {
		q.SetUserID(e.UserID)
	}
	if e.OtherUserID != 0 {
		q.SetOtherUserID(e.OtherUserID)
	}
	if e.ClientIP != "" {
		q.SetClientIP(e.ClientIP)
	}
	return q
}

// resolve fills in e's actor, address and time from ctx and bounds them
// to their columns.
func resolve(ctx context.Context, e Event) Event {
	o := OriginFrom(ctx)
	if e.Actor == "" {
		e.Actor = o.Actor
	}
	if e.Actor == "" {
		e.Actor = System
	}
	if e.ClientIP == "" {
		e.ClientIP = o.ClientIP
	}
	if e.NoClientIP {
		e.ClientIP = ""
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	e.Actor = truncate(e.Actor, 80)
	e.ClientIP = truncate(e.ClientIP, 64)
	e.AppID = truncate(e.AppID, 64)
	return e
}

// Count returns &n, for Event.Count.
func Count(n int) *int { return &n }

// ForgetClientIPs clears the client IP of every event about userID, in the
// transaction that erases the user.
func ForgetClientIPs(ctx context.Context, tx *ent.Tx, userID int) error {
	err := tx.AuditEvent.Update().
		Where(auditevent.Or(auditevent.UserID(userID), auditevent.OtherUserID(userID)), auditevent.ClientIPNotNil()).
		ClearClientIP().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("forgetting audit events' client IPs: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
