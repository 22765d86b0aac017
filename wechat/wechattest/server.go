// Package wechattest is an in-process stand-in for WeChat's server API,
// faithful to what wxid relies on: text/plain answers, errcode/errmsg JSON
// with HTTP 200 for errors, real AES, random 24-character base64 session
// keys, single-use codes valid five minutes, access tokens that expire and
// get replaced the way cgi-bin/token and cgi-bin/stable_token do.
//
// Tests drive it through Handler (with httptest.NewServer or NewTransport)
// and act as the mini-program with Login, PhoneCode and EncryptPhone. The
// server's sandbox mode serves it in process and mounts SandboxHandler so a
// developer can play wx.login without a phone.
//
// Error codes it answers: 40029 invalid, expired or foreign code; 40163 code
// already used; 40226 blocked user; 45011 over 100 jscode2session calls per
// user per minute, or stable_token force_refresh within 30 s of the last
// one; 45009 over 20 force refreshes a day; 40013 unknown appid; 40125 wrong
// secret; 41002/41004/41008 missing appid/secret/code; 40002 wrong
// grant_type; 41001 missing, 40001 unknown or superseded, 42001 expired
// access token; 87009 wrong session key signature; 40003 unknown openid;
// 47001 unparseable JSON body; 40097 bad sig_method.
package wechattest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxid/wxid/wechat"
)

// Lifetimes and limits, as WeChat documents them.
const (
	CodeTTL             = 5 * time.Minute  // wx.login and phone codes
	TokenTTL            = 2 * time.Hour    // access tokens (expires_in 7200)
	TokenOverlap        = 5 * time.Minute  // a replaced token keeps working this long
	StableRenewWindow   = 5 * time.Minute  // stable_token issues a new token this close to expiry
	ForceRefreshSpacing = 30 * time.Second // between stable_token force refreshes
	ForceRefreshPerDay  = 20
	LoginRatePerMinute  = 100 // jscode2session calls per user per minute
)

// API names for Fail and Count.
const (
	APICode2Session        = "jscode2session"
	APIToken               = "token"
	APIStableToken         = "stable_token"
	APIGetUserPhoneNumber  = "getuserphonenumber"
	APICheckSession        = "checksession"
	APIResetUserSessionKey = "resetusersessionkey"
	APIMsgSecCheck         = "msg_sec_check"
)

// MsgSecCheckWindow is how recently a user must have used the mini-program
// (a jscode2session of theirs) for msg_sec_check to accept their openid;
// older, it answers 61010.
const MsgSecCheckWindow = 2 * time.Hour

// Server is the stand-in. Its zero value is not usable; call New. It is
// safe for concurrent use.
type Server struct {
	now        func() time.Time
	defaultApp string

	mu              sync.Mutex
	apps            map[string]*app
	codes           map[string]*code // wx.login codes
	phoneCodes      map[string]*phoneCode
	keys            map[person]string // current session_key
	openids         map[person]string
	byOpenID        map[string]person // appid+"\x00"+openid
	blocked         map[person]bool
	rate            map[person]*window
	tokens          map[string]*token
	faults          map[string][]*Fault
	counts          map[string]int
	countryAsNumber bool
	lastSeen        map[person]time.Time // newest jscode2session per person
	verdicts        map[string]string    // word -> "risky" or "review"
}

type person struct{ appID, user string }

type app struct {
	secret       string
	openPlatform string
	legacy       *token // newest cgi-bin/token
	stable       *token // current stable_token
	lastForce    time.Time
	forceDay     string
	forceCount   int
}

type code struct {
	who     person
	expires time.Time
	used    bool
}

type phoneCode struct {
	who                  person
	phone, pure, country string
	expires              time.Time
	used                 bool
}

type token struct {
	appID     string
	value     string
	expires   time.Time
	invalidAt time.Time // zero: not superseded
}

type window struct {
	minute int64
	n      int
}

// Option configures New.
type Option func(*Server)

// WithClock makes the stand-in read time from now (code, token and rate
// limit expiry).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithDefaultApp names the app SandboxHandler uses when a request has no
// appId.
func WithDefaultApp(appID string) Option { return func(s *Server) { s.defaultApp = appID } }

// New returns an empty stand-in; add apps with AddApp.
func New(opts ...Option) *Server {
	s := &Server{
		now:        time.Now,
		apps:       map[string]*app{},
		codes:      map[string]*code{},
		phoneCodes: map[string]*phoneCode{},
		keys:       map[person]string{},
		openids:    map[person]string{},
		byOpenID:   map[string]person{},
		blocked:    map[person]bool{},
		rate:       map[person]*window{},
		tokens:     map[string]*token{},
		faults:     map[string][]*Fault{},
		counts:     map[string]int{},
		lastSeen:   map[person]time.Time{},
		verdicts:   map[string]string{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddApp registers a mini-program. Apps with the same non-empty
// openPlatform share unionids; with "" jscode2session answers no unionid
// for the app. Adding an app again replaces its secret and open platform.
func (s *Server) AddApp(appID, secret, openPlatform string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[appID]; ok {
		a.secret, a.openPlatform = secret, openPlatform
		return
	}
	s.apps[appID] = &app{secret: secret, openPlatform: openPlatform}
}

// Login does what wx.login does for person user in the app: it mints a new
// single-use code valid CodeTTL. Exchanging the code rotates the person's
// session key for the app.
func (s *Server) Login(appID, user string) (string, error) {
	if user == "" {
		return "", errors.New("wechattest: empty user")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[appID]; !ok {
		return "", fmt.Errorf("wechattest: unknown app %q", appID)
	}
	c := randomCode()
	s.codes[c] = &code{who: person{appID, user}, expires: s.now().Add(CodeTTL)}
	s.remember(person{appID, user})
	return c, nil
}

// Block marks the person as risky: jscode2session answers 40226 for their
// codes.
func (s *Server) Block(appID, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[person{appID, user}] = true
}

// OpenID is the person's openid in the app: 28 characters starting with
// "o", the same for every Server and run.
func (s *Server) OpenID(appID, user string) string { return openID(appID, user) }

// UnionID is the person's unionid, shared by the apps of one open
// platform; "" when the app is unknown or has no open platform.
func (s *Server) UnionID(appID, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unionID(appID, user)
}

func (s *Server) unionID(appID, user string) string {
	a, ok := s.apps[appID]
	if !ok || a.openPlatform == "" {
		return ""
	}
	return derive("unionid", a.openPlatform, user)
}

// SessionKey is the person's current session key for the app, "" if a code
// of theirs was never exchanged.
func (s *Server) SessionKey(appID, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[person{appID, user}]
}

// EncryptPhone produces getPhoneNumber's old form (encryptedData and iv)
// for the number under the person's current session key, with watermark
// appid = appID. countryCode "" means "86". It fails when the person has
// no session key yet.
func (s *Server) EncryptPhone(appID, user, phoneNumber, countryCode string) (encryptedData, iv string, err error) {
	s.mu.Lock()
	p := s.phonePayload(appID, phoneNumber, countryCode)
	s.mu.Unlock()
	return s.Encrypt(appID, user, p)
}

// Encrypt encrypts payload's JSON under the person's current session key.
// Nothing is added: a test builds its own watermark.
func (s *Server) Encrypt(appID, user string, payload any) (encryptedData, iv string, err error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return "", "", fmt.Errorf("wechattest: encoding payload: %w", err)
	}
	key := s.SessionKey(appID, user)
	if key == "" {
		return "", "", fmt.Errorf("wechattest: %q has no session key in %q (exchange a Login code first)", user, appID)
	}
	return wechat.Encrypt(key, b)
}

// PhoneCode is getPhoneNumber's new form: a single-use code, valid CodeTTL,
// that wxa/business/getuserphonenumber resolves to the number for an access
// token of the app. countryCode "" means "86".
func (s *Server) PhoneCode(appID, user, phoneNumber, countryCode string) string {
	if countryCode == "" {
		countryCode = "86"
	}
	phone, pure := splitPhone(phoneNumber, countryCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := randomCode()
	s.phoneCodes[c] = &phoneCode{
		who: person{appID, user}, phone: phone, pure: pure, country: countryCode,
		expires: s.now().Add(CodeTTL),
	}
	return c
}

// PhoneNumberCountryCodeAsNumber makes phone answers carry countryCode as a
// JSON number (86) instead of a string ("86"), as WeChat's samples do.
func (s *Server) PhoneNumberCountryCodeAsNumber(b bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countryAsNumber = b
}

// Fault is an injected failure. The first non-zero of Body, HTTPStatus and
// Errcode decides the answer: Body is written raw (with HTTPStatus, or 200);
// HTTPStatus alone answers an HTML error page; Errcode answers
// {"errcode","errmsg"} with HTTP 200. Delay is waited first (or until the
// caller gives up); a Fault with only Delay then answers normally.
type Fault struct {
	Errcode    int
	Errmsg     string
	HTTPStatus int
	Body       string
	Delay      time.Duration
	Times      int // calls affected; 0 means once
}

// Fail queues f for the next calls to api (APICode2Session, APIToken,
// APIStableToken, APIGetUserPhoneNumber, APICheckSession,
// APIResetUserSessionKey). Faults queued for one api apply in order.
func (s *Server) Fail(api string, f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[api] = append(s.faults[api], &f)
}

// ExpireTokens expires every access token issued so far: calls with them
// answer 42001, and the next token fetch issues a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range s.tokens {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

// Count is the number of calls served for api, faults included.
func (s *Server) Count(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[api]
}

// Handler serves the WeChat API paths: /sns/jscode2session, /cgi-bin/token,
// /cgi-bin/stable_token, /wxa/business/getuserphonenumber, /wxa/checksession,
// /wxa/resetusersessionkey and /wxa/msg_sec_check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sns/jscode2session", s.serve(APICode2Session, s.code2Session))
	mux.HandleFunc("/cgi-bin/token", s.serve(APIToken, s.legacyToken))
	mux.HandleFunc("/cgi-bin/stable_token", s.serve(APIStableToken, s.stableToken))
	mux.HandleFunc("/wxa/business/getuserphonenumber", s.serve(APIGetUserPhoneNumber, s.getUserPhoneNumber))
	mux.HandleFunc("/wxa/checksession", s.serve(APICheckSession, s.checkSession))
	mux.HandleFunc("/wxa/resetusersessionkey", s.serve(APIResetUserSessionKey, s.resetUserSessionKey))
	mux.HandleFunc("/wxa/msg_sec_check", s.serve(APIMsgSecCheck, s.msgSecCheck))
	return mux
}

// answer is a JSON object; errcode answers carry "errcode" and "errmsg".
type answer = map[string]any

// serve counts the call, applies a queued fault, then runs h under the lock
// and writes its answer as WeChat does: JSON labelled text/plain, HTTP 200.
func (s *Server) serve(api string, h func(r *http.Request, body []byte) answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.counts[api]++
		f := s.takeFault(api)
		s.mu.Unlock()

		if f != nil {
			if f.Delay > 0 {
				t := time.NewTimer(f.Delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			switch {
			case f.Body != "":
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(orDefault(f.HTTPStatus, http.StatusOK))
				_, _ = io.WriteString(w, f.Body)
				return
			case f.HTTPStatus != 0:
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(f.HTTPStatus)
				fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.HTTPStatus, http.StatusText(f.HTTPStatus))
				return
			case f.Errcode != 0:
				msg := f.Errmsg
				if msg == "" {
					msg = "injected fault"
				}
				write(w, errAnswer(f.Errcode, msg))
				return
			}
		}

		s.mu.Lock()
		a := h(r, body)
		s.mu.Unlock()
		write(w, a)
	}
}

func (s *Server) takeFault(api string) *Fault {
	q := s.faults[api]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	q[0].Times--
	if q[0].Times <= 0 {
		s.faults[api] = q[1:]
	}
	return &f
}

func write(w http.ResponseWriter, a answer) {
	b, err := json.Marshal(a)
	if err != nil {
		b = []byte(`{"errcode":-1,"errmsg":"system error"}`)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func errAnswer(code int, msg string) answer {
	return answer{"errcode": code, "errmsg": msg + ", rid: " + rid()}
}

func (s *Server) code2Session(r *http.Request, _ []byte) answer {
	q := r.URL.Query()
	if _, e := s.checkApp(q.Get("appid"), q.Get("secret")); e != nil {
		return e
	}
	if q.Get("js_code") == "" {
		return errAnswer(41008, "missing code")
	}
	if q.Get("grant_type") != "authorization_code" {
		return errAnswer(40002, "invalid grant_type")
	}
	now := s.now()
	c, ok := s.codes[q.Get("js_code")]
	if !ok || c.who.appID != q.Get("appid") || !now.Before(c.expires) {
		return errAnswer(40029, "invalid code")
	}
	if c.used {
		return errAnswer(40163, "code been used")
	}
	minute := now.Unix() / 60
	win := s.rate[c.who]
	if win == nil || win.minute != minute {
		win = &window{minute: minute}
		s.rate[c.who] = win
	}
	win.n++
	if win.n > LoginRatePerMinute {
		return errAnswer(45011, "api minute-quota reach limit  mustslower  retry next minute")
	}
	if s.blocked[c.who] {
		return errAnswer(40226, "code blocked")
	}
	c.used = true
	key := newSessionKey()
	s.keys[c.who] = key
	s.lastSeen[c.who] = now
	out := answer{"session_key": key, "openid": s.remember(c.who)}
	if u := s.unionID(c.who.appID, c.who.user); u != "" {
		out["unionid"] = u
	}
	return out
}

func (s *Server) checkApp(appID, secret string) (*app, answer) {
	switch {
	case appID == "":
		return nil, errAnswer(41002, "appid missing")
	case secret == "":
		return nil, errAnswer(41004, "appsecret missing")
	}
	a, ok := s.apps[appID]
	if !ok {
		return nil, errAnswer(40013, "invalid appid")
	}
	if !hmac.Equal([]byte(a.secret), []byte(secret)) {
		return nil, errAnswer(40125, "invalid appsecret")
	}
	return a, nil
}

// legacyToken is cgi-bin/token: a new token every call; the app's previous
// legacy tokens stop working TokenOverlap later. Stable tokens are not
// affected (WeChat keeps the two apart).
func (s *Server) legacyToken(r *http.Request, _ []byte) answer {
	q := r.URL.Query()
	if q.Get("grant_type") != "client_credential" {
		return errAnswer(40002, "invalid grant_type")
	}
	appID := q.Get("appid")
	a, e := s.checkApp(appID, q.Get("secret"))
	if e != nil {
		return e
	}
	now := s.now()
	if old := a.legacy; old != nil {
		s.supersede(old, now)
	}
	a.legacy = s.issue(appID, now)
	return tokenAnswer(a.legacy, now)
}

// supersede makes t (and every older token it replaced) stop working
// TokenOverlap from now.
func (s *Server) supersede(t *token, now time.Time) {
	if t.invalidAt.IsZero() || t.invalidAt.After(now.Add(TokenOverlap)) {
		t.invalidAt = now.Add(TokenOverlap)
	}
}

func (s *Server) issue(appID string, now time.Time) *token {
	t := &token{appID: appID, value: randomToken(), expires: now.Add(TokenTTL)}
	s.tokens[t.value] = t
	return t
}

func tokenAnswer(t *token, now time.Time) answer {
	left := int64(t.expires.Sub(now) / time.Second)
	return answer{"access_token": t.value, "expires_in": left}
}

// stableToken is cgi-bin/stable_token. Normal mode answers the current
// stable token (with its remaining lifetime) until StableRenewWindow before
// its expiry, then a new one, invalidating nothing. force_refresh issues a
// new token at once, at most every ForceRefreshSpacing (else 45011) and
// ForceRefreshPerDay a day (else 45009); the replaced token keeps working
// TokenOverlap longer.
func (s *Server) stableToken(_ *http.Request, body []byte) answer {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errAnswer(47001, "data format error")
	}
	if req.GrantType != "client_credential" {
		return errAnswer(40002, "invalid grant_type")
	}
	a, e := s.checkApp(req.AppID, req.Secret)
	if e != nil {
		return e
	}
	now := s.now()
	if req.ForceRefresh {
		day := now.Format(time.DateOnly)
		if a.forceDay != day {
			a.forceDay, a.forceCount = day, 0
		}
		if !a.lastForce.IsZero() && now.Sub(a.lastForce) < ForceRefreshSpacing {
			return errAnswer(45011, "api minute-quota reach limit  mustslower  retry next minute")
		}
		if a.forceCount >= ForceRefreshPerDay {
			return errAnswer(45009, "reach max api daily quota limit")
		}
		a.lastForce = now
		a.forceCount++
		if a.stable != nil {
			s.supersede(a.stable, now)
		}
		a.stable = s.issue(req.AppID, now)
		return tokenAnswer(a.stable, now)
	}
	if t := a.stable; t != nil && t.valid(now) && now.Before(t.expires.Add(-StableRenewWindow)) {
		return tokenAnswer(t, now)
	}
	a.stable = s.issue(req.AppID, now)
	return tokenAnswer(a.stable, now)
}

func (t *token) valid(now time.Time) bool {
	return now.Before(t.expires) && (t.invalidAt.IsZero() || now.Before(t.invalidAt))
}

// checkToken validates an access_token parameter and returns its app.
func (s *Server) checkToken(value string) (string, answer) {
	if value == "" {
		return "", errAnswer(41001, "access_token missing")
	}
	t, ok := s.tokens[value]
	now := s.now()
	switch {
	case !ok:
		return "", errAnswer(40001, "invalid credential, access_token is invalid or not latest")
	case !now.Before(t.expires):
		return "", errAnswer(42001, "access_token expired")
	case !t.valid(now):
		return "", errAnswer(40001, "invalid credential, access_token is invalid or not latest")
	}
	return t.appID, nil
}

func (s *Server) getUserPhoneNumber(r *http.Request, body []byte) answer {
	appID, e := s.checkToken(r.URL.Query().Get("access_token"))
	if e != nil {
		return e
	}
	var req struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errAnswer(47001, "data format error")
	}
	c, ok := s.phoneCodes[req.Code]
	if !ok || c.used || c.who.appID != appID || !s.now().Before(c.expires) {
		return errAnswer(40029, "invalid code")
	}
	c.used = true
	info := s.phonePayload(appID, c.phone, c.country)
	return answer{"errcode": 0, "errmsg": "ok", "phone_info": info}
}

// SetVerdict makes msg_sec_check answer suggest ("risky" or "review") for
// any content containing word; "pass" removes the word. Everything else
// passes.
func (s *Server) SetVerdict(word, suggest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if suggest == "pass" {
		delete(s.verdicts, word)
		return
	}
	s.verdicts[word] = suggest
}

// msgSecCheck is wxa/msg_sec_check version 2: the content's verdict for a
// user who used the app within MsgSecCheckWindow.
func (s *Server) msgSecCheck(r *http.Request, body []byte) answer {
	appID, e := s.checkToken(r.URL.Query().Get("access_token"))
	if e != nil {
		return e
	}
	var req struct {
		Content string `json:"content"`
		Version int    `json:"version"`
		Scene   int    `json:"scene"`
		OpenID  string `json:"openid"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Version != 2 || req.Scene < 1 || req.Scene > 4 || req.Content == "" || req.OpenID == "" {
		return errAnswer(47001, "data format error")
	}
	who, ok := s.byOpenID[appID+"\x00"+req.OpenID]
	if !ok || s.now().Sub(s.lastSeen[who]) > MsgSecCheckWindow {
		return errAnswer(61010, "user access expired")
	}
	suggest, label := "pass", 100
	for word, v := range s.verdicts {
		if strings.Contains(req.Content, word) && (suggest == "pass" || v == "risky") {
			suggest, label = v, 20001
		}
	}
	return answer{"errcode": 0, "errmsg": "ok", "trace_id": rid(),
		"result": answer{"suggest": suggest, "label": label},
		"detail": []answer{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	}
}

func (s *Server) checkSession(r *http.Request, _ []byte) answer {
	if _, e := s.checkSignature(r); e != nil {
		return e
	}
	return answer{"errcode": 0, "errmsg": "ok"}
}

func (s *Server) resetUserSessionKey(r *http.Request, _ []byte) answer {
	who, e := s.checkSignature(r)
	if e != nil {
		return e
	}
	key := newSessionKey()
	s.keys[who] = key
	return answer{"errcode": 0, "errmsg": "ok", "openid": s.openids[who], "session_key": key}
}

// checkSignature validates access_token, openid and the hmac_sha256
// signature of the person's current session key.
func (s *Server) checkSignature(r *http.Request) (person, answer) {
	q := r.URL.Query()
	appID, e := s.checkToken(q.Get("access_token"))
	if e != nil {
		return person{}, e
	}
	if q.Get("sig_method") != "hmac_sha256" {
		return person{}, errAnswer(40097, "invalid args")
	}
	who, ok := s.byOpenID[appID+"\x00"+q.Get("openid")]
	if !ok {
		return person{}, errAnswer(40003, "invalid openid")
	}
	key := s.keys[who]
	want := SessionSignature(key)
	if key == "" || !hmac.Equal([]byte(want), []byte(q.Get("signature"))) {
		return person{}, errAnswer(87009, "invalid signature")
	}
	return who, nil
}

// SessionSignature is the signature checksession and resetusersessionkey
// expect of a session key: lowercase hex of HMAC-SHA256 keyed with the
// session key's base64 text, over the empty message.
func SessionSignature(sessionKey string) string {
	m := hmac.New(sha256.New, []byte(sessionKey))
	return hex.EncodeToString(m.Sum(nil))
}

// phonePayload is the phone JSON of both getPhoneNumber forms.
func (s *Server) phonePayload(appID, phoneNumber, countryCode string) answer {
	if countryCode == "" {
		countryCode = "86"
	}
	phone, pure := splitPhone(phoneNumber, countryCode)
	var cc any = countryCode
	if s.countryAsNumber {
		if n, err := strconv.Atoi(countryCode); err == nil {
			cc = n
		}
	}
	return answer{
		"phoneNumber":     phone,
		"purePhoneNumber": pure,
		"countryCode":     cc,
		"watermark":       answer{"timestamp": s.now().Unix(), "appid": appID},
	}
}

// remember records the person's openid for checksession lookups.
func (s *Server) remember(p person) string {
	id, ok := s.openids[p]
	if !ok {
		id = openID(p.appID, p.user)
		s.openids[p] = id
		s.byOpenID[p.appID+"\x00"+id] = p
	}
	return id
}

// splitPhone returns the number as given and without its "+country" prefix.
func splitPhone(phoneNumber, countryCode string) (phone, pure string) {
	pure = strings.TrimPrefix(phoneNumber, "+"+countryCode)
	pure = strings.TrimPrefix(pure, "+")
	return phoneNumber, pure
}

func openID(appID, user string) string { return derive("openid", appID, user) }

// derive is "o" + 27 URL-safe base64 characters of a hash: the shape of
// real openids and unionids.
func derive(kind, scope, user string) string {
	h := sha256.Sum256([]byte("wechattest\x00" + kind + "\x00" + scope + "\x00" + user))
	return "o" + base64.RawURLEncoding.EncodeToString(h[:])[:27]
}

func newSessionKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomCode is 32 alphanumeric characters, like wx.login codes.
func randomCode() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// randomToken looks like an access token: 136 characters.
func randomToken() string {
	b := make([]byte, 102)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func rid() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:16] + "-" + h[16:]
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
