package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
)

// Export is everything wxid stores about a person (exportMyData,
// exportUser), secrets excepted: no session_key, skey, token hash or
// sealed successor. Its JSON form is the export format documented in the
// README.
type Export struct {
	// ExportedAt is when the export was made.
	ExportedAt time.Time `json:"exportedAt"`
	// User is the profile and phone number.
	User ExportUser `json:"user"`
	// UnionID is the open-platform unionid; nil when there is none.
	UnionID *string `json:"unionId"`
	// OpenIDs are the person's identities in each mini-program.
	OpenIDs []ExportOpenID `json:"openIds"`
	// Sessions are the stored logins, live or ended, without their skeys.
	Sessions []ExportSession `json:"sessions"`
	// AuditEvents are the events about the person, oldest first.
	AuditEvents []ExportAuditEvent `json:"auditEvents"`
}

// ExportUser is the user row of an Export.
type ExportUser struct {
	ID              int        `json:"id"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	LastLoginAt     *time.Time `json:"lastLoginAt"`
	Disabled        bool       `json:"disabled"`
	PhoneNumber     *string    `json:"phoneNumber"`
	PurePhoneNumber *string    `json:"purePhoneNumber"`
	CountryCode     *string    `json:"countryCode"`
	PhoneVerifiedAt *time.Time `json:"phoneVerifiedAt"`
	Nickname        *string    `json:"nickname"`
	AvatarURL       *string    `json:"avatarUrl"`
}

// ExportOpenID is one openid of an Export.
type ExportOpenID struct {
	AppID     string    `json:"appId"`
	OpenID    string    `json:"openId"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ExportSession is one session of an Export: metadata only.
type ExportSession struct {
	ID                int        `json:"id"`
	CreatedAt         time.Time  `json:"createdAt"`
	ExpiresAt         time.Time  `json:"expiresAt"`
	AbsoluteExpiresAt time.Time  `json:"absoluteExpiresAt"`
	LastRefreshedAt   *time.Time `json:"lastRefreshedAt"`
	RotatedAt         *time.Time `json:"rotatedAt"`
	RevokedAt         *time.Time `json:"revokedAt"`
	ClientIP          string     `json:"clientIP"`
	UserAgent         string     `json:"userAgent"`
}

// ExportAuditEvent is one audit event of an Export.
type ExportAuditEvent struct {
	ID          int       `json:"id"`
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`
	ClientIP    *string   `json:"clientIP"`
	NewUser     bool      `json:"newUser"`
	OtherUserID *int      `json:"otherUserId"`
	Count       *int      `json:"count"`
}

// Export reads everything stored about a user and records DATA_EXPORTED
// (by the user itself or an admin, as the request's origin says) in the
// same transaction. NOT_FOUND for an unknown or erased user.
func (s *Service) Export(ctx context.Context, userID int) (*Export, error) {
	var out *Export
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		if out, err = s.exportTx(ctx, tx, userID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.DataExported, At: out.ExportedAt, UserID: userID})
	})
	switch {
	case errors.Is(err, errNoUser):
		return nil, apperr.NotFound("user not found")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("exporting user: %w", err))
	}
	return out, nil
}

func (s *Service) exportTx(ctx context.Context, tx *ent.Tx, userID int) (*Export, error) {
	u, err := tx.User.Get(ctx, userID)
	switch {
	case ent.IsNotFound(err):
		return nil, errNoUser
	case err != nil:
		return nil, fmt.Errorf("reading user: %w", err)
	case u.ErasedAt != nil:
		return nil, errNoUser
	}
	out := &Export{ExportedAt: s.now().UTC(), User: ExportUser{
		ID: u.ID, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt, Disabled: u.Disabled,
		PhoneNumber: u.PhoneNumber, PurePhoneNumber: u.PurePhoneNumber, CountryCode: u.CountryCode,
		PhoneVerifiedAt: u.PhoneVerifiedAt, Nickname: u.Nickname, AvatarURL: u.AvatarURL,
	}}
	if un, err := tx.UnionID.Query().Where(unionid.UserID(userID)).Only(ctx); err == nil {
		out.UnionID = &un.Unionid
	} else if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("reading unionid: %w", err)
	}
	oids, err := tx.OpenID.Query().Where(openid.UserID(userID)).
		Select(openid.FieldAppid, openid.FieldOpenid, openid.FieldCreatedAt, openid.FieldUpdatedAt).
		Order(openid.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading openids: %w", err)
	}
	out.OpenIDs = make([]ExportOpenID, len(oids))
	for i, o := range oids {
		out.OpenIDs[i] = ExportOpenID{AppID: o.Appid, OpenID: o.Openid, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	}
	sessions, err := s.sessions.OfUserTx(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	out.Sessions = make([]ExportSession, len(sessions))
	for i, r := range sessions {
		out.Sessions[i] = ExportSession{ID: r.ID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, AbsoluteExpiresAt: r.AbsoluteExpiresAt,
			LastRefreshedAt: r.LastRefreshedAt, RotatedAt: r.RotatedAt, RevokedAt: r.RevokedAt, ClientIP: r.ClientIP, UserAgent: r.UserAgent}
	}
	events, err := audit.About(ctx, tx.Client(), userID)
	if err != nil {
		return nil, err
	}
	out.AuditEvents = make([]ExportAuditEvent, len(events))
	for i, e := range events {
		out.AuditEvents[i] = ExportAuditEvent{ID: e.ID, Kind: e.Kind.String(), At: e.At, Actor: e.Actor, ClientIP: e.ClientIP,
			NewUser: e.NewUser, OtherUserID: e.OtherUserID, Count: e.Count}
	}
	return out, nil
}
