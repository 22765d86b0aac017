// Package profile changes what a user shows of itself: its nickname and
// avatar (updateProfile).
//
// # Rules
//
// A nickname is 1 to MaxNicknameRunes characters once surrounding white
// space is trimmed, valid UTF-8, without control (Cc), format (Cf, except
// the zero-width joiner that builds emoji), private-use, surrogate or
// line/paragraph separator characters. It then goes through WeChat's
// content security check (msg_sec_check version 2, scene 1 "profile", with
// the app's shared access token and the caller's openid), because the
// server cannot trust what the mini-program's nickname input says it
// checked. A "risky" verdict refuses the nickname with BAD_USER_INPUT and a
// message the page can show. A "review" verdict (WeChat is unsure and
// leaves the decision to the app) is accepted: it is logged with its label,
// never the text, so that operators can look; a product that wants stricter
// rules can refuse it. WeChat's 61010 (the user has not used the app in the
// last two hours) is UNAUTHENTICATED: a new wx.login() and login fixes it.
//
// An avatar URL is an absolute https URL of at most MaxAvatarURLBytes bytes
// with a host and no user name or password.
package profile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
)

// Limits of a profile.
const (
	// MaxNicknameRunes is the longest nickname, in characters.
	MaxNicknameRunes = 32
	// MaxAvatarURLBytes is the longest avatar URL.
	MaxAvatarURLBytes = 1024
	// nicknameScene is msg_sec_check's scene of profile text.
	nicknameScene = 1
	// errcodeNotSeenLately: the openid has not used the app lately.
	errcodeNotSeenLately = 61010
)

// Messages a page can show.
const (
	MsgNicknameRisky = "this nickname is not allowed: choose another one"
	msgNotSeenLately = "WeChat has not seen this user lately: call wx.login() and login again, then retry"
)

// Upstream is the part of the WeChat client profiles need.
type Upstream interface {
	MsgSecCheck(ctx context.Context, accessToken, openID string, scene int, content string) (wechat.SecCheck, error)
}

// Tokens runs a WeChat call with the app's shared access token;
// *accesstoken.Manager implements it.
type Tokens interface {
	Do(ctx context.Context, app wechat.App, call func(ctx context.Context, accessToken string) error) error
}

// Apps finds a configured app by appid; identity.Apps implements it.
type Apps interface {
	Lookup(appID string) (wechat.App, error)
}

// Service changes profiles. It is safe for concurrent use.
type Service struct {
	db       *ent.Client
	apps     Apps
	tokens   Tokens
	upstream Upstream
	now      func() time.Time
	log      *slog.Logger
	views    *users.Views
}

// Options configure a Service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Views is told of every write of a user (users.Views); nil is none.
	Views *users.Views
}

// NewService returns a profile service.
func NewService(db *ent.Client, apps Apps, tokens Tokens, upstream Upstream, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: db, apps: apps, tokens: tokens, upstream: upstream, now: o.Now, log: o.Logger, views: o.Views}
}

// Change is a profile update: nil leaves a field alone, "" clears it.
type Change struct {
	Nickname  *string
	AvatarURL *string
}

// Update validates c, checks the nickname with WeChat, and stores c on the
// caller's user with a PROFILE_UPDATED audit event.
func (s *Service) Update(ctx context.Context, caller session.Info, c Change) (*ent.User, error) {
	nick, err := normalizeNickname(c.Nickname)
	if err != nil {
		return nil, err
	}
	if err := validateAvatarURL(c.AvatarURL); err != nil {
		return nil, err
	}
	if nick != nil && *nick != "" {
		if err := s.check(ctx, caller, *nick); err != nil {
			return nil, err
		}
	}
	return s.store(ctx, caller, nick, c.AvatarURL)
}

// normalizeNickname trims n and checks it against the rules.
func normalizeNickname(n *string) (*string, error) {
	if n == nil {
		return nil, nil
	}
	if !utf8.ValidString(*n) {
		return nil, apperr.BadInput("nickname is not valid UTF-8")
	}
	t := strings.TrimSpace(*n)
	if *n != "" && t == "" {
		return nil, apperr.BadInput("nickname must not be blank")
	}
	if utf8.RuneCountInString(t) > MaxNicknameRunes {
		return nil, apperr.BadInput("nickname must be at most %d characters", MaxNicknameRunes)
	}
	for _, r := range t {
		if r == '\u200d' { // zero-width joiner inside emoji
			continue
		}
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return nil, apperr.BadInput("nickname contains a character that cannot be shown (U+%04X)", r)
		}
	}
	return &t, nil
}

// validateAvatarURL checks u against the rules.
func validateAvatarURL(u *string) error {
	if u == nil || *u == "" {
		return nil
	}
	if len(*u) > MaxAvatarURLBytes {
		return apperr.BadInput("avatarUrl must be at most %d bytes", MaxAvatarURLBytes)
	}
	if strings.IndexFunc(*u, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return apperr.BadInput("avatarUrl must not contain spaces or control characters")
	}
	p, err := url.Parse(*u)
	if err != nil || p.Scheme != "https" || p.Host == "" || p.Opaque != "" {
		return apperr.BadInput("avatarUrl must be an https URL, like https://example.com/avatar.png")
	}
	if p.User != nil {
		return apperr.BadInput("avatarUrl must not carry a user name or password")
	}
	return nil
}

// check runs WeChat's content security check on a nickname.
func (s *Service) check(ctx context.Context, caller session.Info, nick string) error {
	app, err := s.apps.Lookup(caller.AppID)
	if err != nil {
		return apperr.Internal(fmt.Errorf("the session's app %q is no longer configured: %w", caller.AppID, err))
	}
	var verdict wechat.SecCheck
	err = s.tokens.Do(ctx, app, func(ctx context.Context, accessToken string) error {
		var err error
		verdict, err = s.upstream.MsgSecCheck(ctx, accessToken, caller.OpenID, nicknameScene, nick)
		return err
	})
	var we *wechat.Error
	switch {
	case errors.As(err, &we) && we.Code == errcodeNotSeenLately:
		return apperr.Wrap(apperr.CodeUnauthenticated, msgNotSeenLately, err)
	case err != nil:
		return fmt.Errorf("msg_sec_check: %w", wechat.Classified(err))
	}
	switch verdict.Suggest {
	case wechat.SuggestRisky:
		s.log.InfoContext(ctx, "nickname refused by content security", "user_id", caller.UserID, "label", verdict.Label)
		return apperr.BadInput("%s", MsgNicknameRisky)
	case wechat.SuggestReview:
		s.log.InfoContext(ctx, "nickname accepted for review by content security", "user_id", caller.UserID, "label", verdict.Label)
	}
	return nil
}

// store writes the profile on the caller's user, unless it is disabled,
// with its audit event.
func (s *Service) store(ctx context.Context, caller session.Info, nick, avatar *string) (*ent.User, error) {
	now := s.now().UTC()
	var u *ent.User
	err := database.WithTx(ctx, s.db, nil, func(tx *ent.Tx) error {
		q := tx.User.UpdateOneID(caller.UserID).Where(user.Disabled(false)).SetUpdatedAt(now)
		switch {
		case nick == nil:
		case *nick == "":
			q.ClearNickname()
		default:
			q.SetNickname(*nick)
		}
		switch {
		case avatar == nil:
		case *avatar == "":
			q.ClearAvatarURL()
		default:
			q.SetAvatarURL(*avatar)
		}
		var err error
		if u, err = q.Save(ctx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.ProfileUpdated, At: now, UserID: caller.UserID, Actor: audit.UserActor(caller.UserID)})
	})
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.Unauthenticated("the skey's user no longer exists or is disabled")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("storing profile: %w", err))
	}
	s.views.Invalidate(ctx, caller.UserID)
	return u.Unwrap(), nil
}
