package wechat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options.
const (
	DefaultBaseURL             = "https://api.weixin.qq.com"
	DefaultTimeout             = 5 * time.Second
	DefaultMaxIdleConnsPerHost = 256
	DefaultMaxBodyBytes        = 1 << 20
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// BaseURL is the API root, DefaultBaseURL when empty. A trailing slash
	// is allowed.
	BaseURL string
	// Timeout bounds each call, including reading the answer;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// MaxIdleConnsPerHost keeps enough warm TLS connections for the login
	// concurrency; DefaultMaxIdleConnsPerHost when zero. Ignored when
	// Transport is set.
	MaxIdleConnsPerHost int
	// MaxBodyBytes caps the answer size; larger answers are ErrUnavailable.
	// DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Transport, when set, is used instead of a transport built from the
	// options above (the sandbox serves the stand-in in process through
	// wechattest.NewTransport).
	Transport http.RoundTripper
	// Registerer receives the client's metrics
	// (wxid_wechat_requests_total{api,result} and
	// wxid_wechat_request_duration_seconds{api}); nil registers nothing.
	// Clients sharing a registry share the collectors.
	Registerer prometheus.Registerer
}

// Client calls WeChat's server API. It is safe for concurrent use.
type Client struct {
	base    string
	timeout time.Duration
	maxBody int64
	hc      *http.Client
	metrics *metrics
}

// NewClient returns a Client configured by o.
func NewClient(o Options) *Client {
	c := &Client{
		base:    strings.TrimRight(o.BaseURL, "/"),
		timeout: o.Timeout,
		maxBody: o.MaxBodyBytes,
		metrics: newMetrics(o.Registerer),
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	rt := o.Transport
	if rt == nil {
		t, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			t = t.Clone()
		} else {
			t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second}
		}
		t.MaxIdleConnsPerHost = o.MaxIdleConnsPerHost
		if t.MaxIdleConnsPerHost <= 0 {
			t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
		}
		t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
		rt = t
	}
	c.hc = &http.Client{
		Transport: rt,
		// WeChat does not redirect; a redirect is an unexpected status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Code2Session exchanges a wx.login code for the user's openid, unionid and
// session_key (GET sns/jscode2session). A successful answer without openid
// or with a session_key that is not 24 base64 characters is ErrUnavailable.
func (c *Client) Code2Session(ctx context.Context, app App, code string) (Session, error) {
	const api = "jscode2session"
	if err := checkApp(api, app); err != nil {
		return Session{}, err
	}
	if code == "" {
		return Session{}, localError(api, "empty code", ErrInvalidCode)
	}
	q := url.Values{
		"appid":      {app.AppID},
		"secret":     {app.Secret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	err := c.call(ctx, request{
		api: api, method: http.MethodGet, path: "sns/jscode2session", query: q, out: &out,
		check:   func() bool { return out.OpenID != "" && ValidSessionKey(out.SessionKey) },
		secrets: []string{app.Secret, code},
	})
	if err != nil {
		return Session{}, err
	}
	return Session{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}

// StableToken fetches the app's stable access token (POST
// cgi-bin/stable_token). With forceRefresh WeChat issues a new token; that
// is limited (20 a day, 30 s apart), so use it only after the current token
// was rejected.
func (c *Client) StableToken(ctx context.Context, app App, forceRefresh bool) (Token, error) {
	const api = "stable_token"
	if err := checkApp(api, app); err != nil {
		return Token{}, err
	}
	body, err := json.Marshal(struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", app.AppID, app.Secret, forceRefresh})
	if err != nil {
		return Token{}, localError(api, "encoding request", ErrUpstream)
	}
	return c.token(ctx, request{api: api, method: http.MethodPost, path: "cgi-bin/stable_token", body: body, secrets: []string{app.Secret}})
}

func (c *Client) token(ctx context.Context, r request) (Token, error) {
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	r.out = &out
	r.check = func() bool { return out.AccessToken != "" && out.ExpiresIn > 0 }
	if err := c.call(ctx, r); err != nil {
		return Token{}, err
	}
	return Token{AccessToken: out.AccessToken, ExpiresIn: time.Duration(out.ExpiresIn) * time.Second}, nil
}

// GetUserPhoneNumber resolves a code from the getPhoneNumber button (its new
// form) into the verified phone number (POST
// wxa/business/getuserphonenumber). countryCode is accepted as a JSON string
// or number.
func (c *Client) GetUserPhoneNumber(ctx context.Context, accessToken, code string) (PhoneInfo, error) {
	const api = "getuserphonenumber"
	if accessToken == "" {
		return PhoneInfo{}, localError(api, "empty access token", ErrInvalidToken)
	}
	if code == "" {
		return PhoneInfo{}, localError(api, "empty code", ErrInvalidCode)
	}
	body, err := json.Marshal(map[string]string{"code": code})
	if err != nil {
		return PhoneInfo{}, localError(api, "encoding request", ErrUpstream)
	}
	var out struct {
		PhoneInfo *phonePayload `json:"phone_info"`
	}
	err = c.call(ctx, request{
		api: api, method: http.MethodPost, path: "wxa/business/getuserphonenumber",
		query: url.Values{"access_token": {accessToken}}, body: body, out: &out,
		check:   func() bool { return out.PhoneInfo != nil && out.PhoneInfo.PhoneNumber != "" },
		secrets: []string{accessToken, code},
	})
	if err != nil {
		return PhoneInfo{}, err
	}
	return out.PhoneInfo.info(), nil
}

// Verdicts of MsgSecCheck.
const (
	// SuggestPass: nothing objectionable found.
	SuggestPass = "pass"
	// SuggestReview: possibly objectionable; WeChat leaves the decision to
	// the app.
	SuggestReview = "review"
	// SuggestRisky: objectionable; the app must not publish it.
	SuggestRisky = "risky"
)

// SecCheck is msg_sec_check's verdict on a text.
type SecCheck struct {
	// Suggest is SuggestPass, SuggestReview or SuggestRisky.
	Suggest string
	// Label classifies the content: 100 normal, 20001 and up the classes of
	// objectionable content.
	Label int
}

// MsgSecCheck runs WeChat's content security check (version 2) on text a
// user wrote (POST wxa/msg_sec_check): scene 1 profile (nickname), 2
// comment, 3 forum, 4 social log; openID is the writer's, who must have
// used the mini-program within the last two hours (else errcode 61010, an
// ErrUpstream).
func (c *Client) MsgSecCheck(ctx context.Context, accessToken, openID string, scene int, content string) (SecCheck, error) {
	const api = "msg_sec_check"
	if accessToken == "" {
		return SecCheck{}, localError(api, "empty access token", ErrInvalidToken)
	}
	body, err := json.Marshal(map[string]any{"content": content, "version": 2, "scene": scene, "openid": openID})
	if err != nil {
		return SecCheck{}, localError(api, "encoding request", ErrUpstream)
	}
	var out struct {
		Result *struct {
			Suggest string `json:"suggest"`
			Label   int    `json:"label"`
		} `json:"result"`
	}
	err = c.call(ctx, request{
		api: api, method: http.MethodPost, path: "wxa/msg_sec_check",
		query: url.Values{"access_token": {accessToken}}, body: body, out: &out,
		check: func() bool {
			return out.Result != nil && (out.Result.Suggest == SuggestPass || out.Result.Suggest == SuggestReview || out.Result.Suggest == SuggestRisky)
		},
		secrets: []string{accessToken},
	})
	if err != nil {
		return SecCheck{}, err
	}
	return SecCheck{Suggest: out.Result.Suggest, Label: out.Result.Label}, nil
}

// ValidSessionKey reports whether k looks like a WeChat session_key: 24
// characters of standard padded base64 encoding 16 bytes.
func ValidSessionKey(k string) bool {
	if len(k) != 24 {
		return false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(k)
	return err == nil && len(b) == 16
}

func checkApp(api string, app App) error {
	if app.AppID == "" || app.Secret == "" {
		return localError(api, "app has no appid or secret", ErrBadCredentials)
	}
	return nil
}

// request describes one call to WeChat.
type request struct {
	api     string     // metrics label and error prefix
	method  string     // GET or POST
	path    string     // below the base URL, no leading slash
	query   url.Values // may be nil
	body    []byte     // JSON, POST only
	out     any        // decoded from a successful answer
	check   func() bool
	secrets []string // scrubbed from every message
}

// call performs one request and decodes a JSON object answer into r.out. An
// answer with a non-zero errcode becomes *Error; a successful answer failing
// r.check is ErrUnavailable. r.secrets are scrubbed from every message.
func (c *Client) call(ctx context.Context, r request) (err error) {
	api, secrets := r.api, r.secrets
	start := time.Now()
	defer func() {
		c.metrics.duration.WithLabelValues(api).Observe(time.Since(start).Seconds())
		c.metrics.requests.WithLabelValues(api, resultLabel(err)).Inc()
	}()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.base + "/" + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		// Only a malformed BaseURL gets here; the message holds the URL.
		return &unavailableError{api: api, detail: "cannot build request (check the base URL)"}
	}
	req.Header.Set("Accept", "application/json, text/plain, */*")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(api, err, secrets)
	}
	defer resp.Body.Close()
	return c.decode(r, resp)
}

// decode reads a WeChat answer into r.out: an errcode becomes *Error, and
// anything that is not a JSON object with the fields r.check wants is
// ErrUnavailable.
func (c *Client) decode(r request, resp *http.Response) error {
	api, secrets := r.api, r.secrets
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return &unavailableError{api: api, detail: "HTTP status " + strconv.Itoa(resp.StatusCode)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return transportError(api, err, secrets)
	}
	if int64(len(data)) > c.maxBody {
		return &unavailableError{api: api, detail: fmt.Sprintf("answer larger than %d bytes", c.maxBody)}
	}
	// WeChat labels its JSON text/plain: decode whatever the Content-Type.
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &unavailableError{api: api, detail: "answer is not a JSON object"}
	}
	var head struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(trimmed, &head); err != nil {
		return &unavailableError{api: api, detail: "unparseable answer"}
	}
	if head.Errcode != 0 {
		return &Error{API: api, Code: head.Errcode, Msg: scrub(head.Errmsg, secrets...)}
	}
	if err := json.Unmarshal(trimmed, r.out); err != nil {
		return &unavailableError{api: api, detail: "unparseable answer"}
	}
	if r.check != nil && !r.check() {
		return &unavailableError{api: api, detail: "answer lacks required fields"}
	}
	return nil
}

// transportError turns a failed round trip into ErrUnavailable without the
// *url.Error wrapper, whose message carries the URL with its query string
// (secret, code, access token).
func transportError(api string, err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	detail := "transport error"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		detail = "timeout"
	case errors.Is(err, context.Canceled):
		detail = "canceled"
	case err != nil:
		detail = scrub(err.Error(), secrets...)
	}
	return &unavailableError{api: api, detail: detail, cause: err}
}
