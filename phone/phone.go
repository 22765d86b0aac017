// Package phone verifies a user's phone number from what the mini-program's
// getPhoneNumber button gives, and stores it on the user.
//
// The button has two forms. The old one hands the mini-program
// encryptedData and iv, encrypted by WeChat under the session_key of the
// user's latest wx.login; wxid decrypts it with the session_key it stored
// (sealed) on the caller's OpenID. The new one hands it a code, which wxid
// resolves with wxa/business/getuserphonenumber and the app's access token.
//
// Input that is malformed before any cryptography is BAD_USER_INPUT with a
// precise message. Everything that can go wrong once decryption starts (bad
// padding, a plaintext that is not JSON, a watermark of another app, no
// phone number) is one DECRYPT_FAILED with one message, so the endpoint is
// no padding oracle. Phone numbers never reach the logs unmasked.
package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
)

// Upstream is the part of the WeChat client the code form needs.
type Upstream interface {
	GetUserPhoneNumber(ctx context.Context, accessToken, code string) (wechat.PhoneInfo, error)
}

// Tokens runs a WeChat call with the app's access token, refreshing it once
// when WeChat rejects it; *accesstoken.Manager implements it.
type Tokens interface {
	Do(ctx context.Context, app wechat.App, call func(ctx context.Context, accessToken string) error) error
}

// Apps finds a configured app by appid; identity.Apps implements it.
type Apps interface {
	Lookup(appID string) (wechat.App, error)
}

// Input is what the client sent: either EncryptedData with IV (old form)
// or Code (new form). Nil and empty strings both count as absent.
type Input struct {
	EncryptedData *string
	IV            *string
	Code          *string
}

// Result is a verified phone number, stored on User.
type Result struct {
	PhoneNumber     string
	PurePhoneNumber string
	CountryCode     string
	// User is the caller, with the number stored.
	User *ent.User
}

// LogValue masks the number, so a Result can be logged.
func (r Result) LogValue() slog.Value {
	return slog.GroupValue(slog.String("phone", Mask(r.PhoneNumber)), slog.String("country_code", r.CountryCode))
}

// Service verifies and stores phone numbers. It is safe for concurrent use.
type Service struct {
	db       *ent.Client
	sealer   *sealer.Sealer
	apps     Apps
	tokens   Tokens
	upstream Upstream
	now      func() time.Time
	log      *slog.Logger
	views    *users.Views
}

// Options configure a Service.
type Options struct {
	// Now is the clock of phone_verified_at; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Views is told of every write of a user (users.Views); nil is none.
	Views *users.Views
}

// NewService returns a Service. s must be the sealer that identity uses to
// seal session keys.
func NewService(db *ent.Client, s *sealer.Sealer, apps Apps, tokens Tokens, upstream Upstream, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: db, sealer: s, apps: apps, tokens: tokens, upstream: upstream, now: o.Now, log: o.Logger, views: o.Views}
}

// Messages of the errors a client can act on.
const (
	// MsgDecryptFailed is the one message of every DECRYPT_FAILED.
	MsgDecryptFailed = "the phone number data does not decrypt with the current session: " +
		"a later wx.login() replaced it, or the data is not a phone number for this app; " +
		"call wx.login() and login again, then ask the user again"
	msgOneForm = "send either encryptedData with iv (getPhoneNumber's old form) or code (its new form), not both and not neither"
)

// Limits of the input, far above real values: a phone payload's
// encryptedData is about 200 base64 characters and a code 32 to 64.
const (
	maxEncryptedDataLen = 4096
	// ivLen is the length of a 16-byte iv in padded base64.
	ivLen = 24
)

// Verify verifies the caller's phone number from in and stores it on the
// caller's user. caller is the session of the request: the session_key
// used is the one stored for its OpenID, and the watermark must name its
// app.
func (s *Service) Verify(ctx context.Context, caller session.Info, in Input) (*Result, error) {
	encryptedData, iv, code := value(in.EncryptedData), value(in.IV), value(in.Code)
	oldForm := encryptedData != "" || iv != ""
	newForm := code != ""
	var (
		info wechat.PhoneInfo
		form string
		err  error
	)
	switch {
	case oldForm == newForm:
		return nil, apperr.BadInput(msgOneForm)
	case caller.AppID == "" || caller.OpenID == "":
		// session.Info carries its account by construction.
		return nil, apperr.Internal(fmt.Errorf("session %d names no account", caller.ID))
	}
	switch {
	case oldForm:
		form = "encrypted_data"
		info, err = s.decrypt(ctx, caller, encryptedData, iv)
	default:
		form = "code"
		info, err = s.exchange(ctx, caller, code)
	}
	if err != nil {
		return nil, err
	}
	u, err := s.store(ctx, caller, info)
	if err != nil {
		return nil, err
	}
	res := &Result{PhoneNumber: info.PhoneNumber, PurePhoneNumber: info.PurePhoneNumber, CountryCode: info.CountryCode, User: u}
	s.log.InfoContext(ctx, "phone number verified", "user_id", u.ID, "appid", caller.AppID, "form", form, "phone", *res)
	return res, nil
}

// decrypt handles the old form.
func (s *Service) decrypt(ctx context.Context, caller session.Info, encryptedData, iv string) (wechat.PhoneInfo, error) {
	if err := checkEncrypted(encryptedData, iv); err != nil {
		return wechat.PhoneInfo{}, err
	}
	sessionKey, err := s.sessionKey(ctx, caller)
	if err != nil {
		return wechat.PhoneInfo{}, err
	}
	info, err := wechat.DecryptPhoneNumber(sessionKey, encryptedData, iv, caller.AppID)
	switch {
	case err == nil:
	case errors.Is(err, wechat.ErrDecrypt):
		s.log.InfoContext(ctx, "phone number data did not decrypt", "appid", caller.AppID, "openid_id", caller.OpenIDID)
		return wechat.PhoneInfo{}, decryptFailed(err)
	default:
		// The input passed checkEncrypted, so the stored key is at fault.
		return wechat.PhoneInfo{}, apperr.Internal(fmt.Errorf("decrypting phone number with the stored session key: %w", err))
	}
	if !fits(info) {
		return wechat.PhoneInfo{}, decryptFailed(errors.New("phone number fields too long"))
	}
	return info, nil
}

// checkEncrypted validates encryptedData and iv before any cryptography.
// Spaces are read as '+', which form encoding turns into spaces on the way
// from some clients; wechat.Decrypt reads them the same way.
func checkEncrypted(encryptedData, iv string) error {
	switch {
	case encryptedData == "" || iv == "":
		return apperr.BadInput("encryptedData and iv go together: send both from the getPhoneNumber event detail")
	case len(iv) != ivLen:
		return apperr.BadInput("iv must be 24 characters of base64 (16 bytes), as in the getPhoneNumber event detail")
	case len(encryptedData) > maxEncryptedDataLen:
		return apperr.BadInput("encryptedData is too long for a phone number")
	}
	ivb, ok := wechat.DecodeBase64(iv)
	if !ok {
		return apperr.BadInput("iv is not standard base64: send it exactly as the getPhoneNumber event detail has it (not URL-encoded)")
	}
	if len(ivb) != 16 {
		return apperr.BadInput("iv must be 24 characters of base64 (16 bytes), as in the getPhoneNumber event detail")
	}
	data, ok := wechat.DecodeBase64(encryptedData)
	if !ok {
		return apperr.BadInput("encryptedData is not standard base64: send it exactly as the getPhoneNumber event detail has it (not URL-encoded)")
	}
	if len(data) == 0 || len(data)%16 != 0 {
		return apperr.BadInput("encryptedData is truncated: its length is not a multiple of the AES block size")
	}
	return nil
}

// openID reads the caller's OpenID row, which must be the account its
// session names.
func (s *Service) openID(ctx context.Context, caller session.Info) (*ent.OpenID, error) {
	oid, err := s.db.OpenID.Get(ctx, caller.OpenIDID)
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.Unauthenticated("the skey's WeChat account no longer exists: call wx.login() and login again")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("reading openid: %w", err))
	case oid.UserID != caller.UserID || oid.Appid != caller.AppID || oid.Openid != caller.OpenID:
		return nil, apperr.Internal(fmt.Errorf("session %d names openid row %d of another account", caller.ID, caller.OpenIDID))
	}
	return oid, nil
}

// sessionKey opens the session_key stored on the caller's OpenID.
func (s *Service) sessionKey(ctx context.Context, caller session.Info) (string, error) {
	oid, err := s.openID(ctx, caller)
	if err != nil {
		return "", err
	}
	if len(oid.SessionKey) == 0 {
		return "", decryptFailed(errors.New("no session key stored"))
	}
	key, err := s.sealer.Open(oid.SessionKey, users.SessionKeyAAD(oid.Appid, oid.Openid))
	if err != nil {
		// Sealed under another WXID_SECRET_KEY: a new login stores a key
		// this server can open.
		s.log.WarnContext(ctx, "stored session key does not open (was WXID_SECRET_KEY changed?)", "openid_id", oid.ID)
		return "", decryptFailed(err)
	}
	return string(key), nil
}

// exchange handles the new form.
func (s *Service) exchange(ctx context.Context, caller session.Info, code string) (wechat.PhoneInfo, error) {
	if !wechat.WellFormedCode(code) {
		return wechat.PhoneInfo{}, apperr.BadInput("code is malformed: send the code from the getPhoneNumber event detail")
	}
	app, err := s.apps.Lookup(caller.AppID)
	if err != nil {
		return wechat.PhoneInfo{}, apperr.Internal(fmt.Errorf("the session's app %q is no longer configured: %w", caller.AppID, err))
	}
	var info wechat.PhoneInfo
	err = s.tokens.Do(ctx, app, func(ctx context.Context, accessToken string) error {
		var err error
		info, err = s.upstream.GetUserPhoneNumber(ctx, accessToken, code)
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, wechat.ErrInvalidCode):
		return wechat.PhoneInfo{}, apperr.Wrap(apperr.CodeInvalidCode,
			"WeChat rejected the phone code: it is invalid, expired or already used; ask the user to tap the button again", err)
	default:
		return wechat.PhoneInfo{}, fmt.Errorf("getuserphonenumber: %w", wechat.Classified(err))
	}
	if !fits(info) {
		return wechat.PhoneInfo{}, apperr.Wrap(apperr.CodeWeChatUnavailable, "WeChat is unavailable; retry later",
			fmt.Errorf("getuserphonenumber: unexpected phone fields: %w", wechat.ErrUnavailable))
	}
	if info.Watermark.AppID != "" && info.Watermark.AppID != caller.AppID {
		return wechat.PhoneInfo{}, apperr.Internal(fmt.Errorf("getuserphonenumber answered for app %q, not %q", info.Watermark.AppID, caller.AppID))
	}
	return info, nil
}

// fits reports whether the number fits the user columns and is complete.
func fits(p wechat.PhoneInfo) bool {
	return p.PhoneNumber != "" && len(p.PhoneNumber) <= 32 && len(p.PurePhoneNumber) <= 32 && len(p.CountryCode) <= 8
}

// store writes the number on the caller's user, unless it is disabled, and
// records PHONE_VERIFIED in the same transaction.
func (s *Service) store(ctx context.Context, caller session.Info, p wechat.PhoneInfo) (*ent.User, error) {
	now := s.now().UTC()
	var u *ent.User
	err := database.WithTx(ctx, s.db, nil, func(tx *ent.Tx) error {
		var err error
		u, err = tx.User.UpdateOneID(caller.UserID).
			Where(user.Disabled(false)).
			SetPhoneNumber(p.PhoneNumber).
			SetPurePhoneNumber(p.PurePhoneNumber).
			SetCountryCode(p.CountryCode).
			SetPhoneVerifiedAt(now).
			SetUpdatedAt(now).
			Save(ctx)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.PhoneVerified, At: now, UserID: caller.UserID, Actor: audit.UserActor(caller.UserID), AppID: caller.AppID})
	})
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.Unauthenticated("the skey's user no longer exists or is disabled")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("storing phone number: %w", err))
	}
	s.views.Invalidate(ctx, caller.UserID)
	return u.Unwrap(), nil
}

func decryptFailed(cause error) error {
	return apperr.Wrap(apperr.CodeDecryptFailed, MsgDecryptFailed, cause)
}

// Mask hides the middle of a phone number for logs: +86138****8000.
func Mask(phone string) string {
	r := []rune(phone)
	keepEnd, keepStart := 4, max(0, len(r)-8)
	if len(r) < 8 {
		keepEnd, keepStart = len(r)/4, 0
	}
	return string(r[:keepStart]) + strings.Repeat("*", len(r)-keepStart-keepEnd) + string(r[len(r)-keepEnd:])
}

// value is *p, or "" for nil.
func value(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
