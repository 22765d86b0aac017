// Package config reads wxid's configuration from WXID_* environment
// variables and the command-line flags that mirror them.
//
// Every variable has a flag of the same name in kebab case without the
// WXID_ prefix: WXID_DATABASE_URL is --database-url. A flag given on the
// command line wins over the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxid/wxid/sealer"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// SandboxAppID is the default app's appid when the sandbox runs and none is
// configured.
const SandboxAppID = "wx0000000000sandbox"

// Config is wxid's configuration. Load fills it; String never prints secrets.
type Config struct {
	// Addr is the listen address (WXID_ADDR, default ":8080").
	Addr string
	// DatabaseURL is mysql://user:pass@host:port/db?opts or sqlite://PATH
	// (WXID_DATABASE_URL, default "sqlite://wxid.db").
	DatabaseURL string
	// AutoMigrate applies pending schema migrations at start-up
	// (WXID_AUTO_MIGRATE; default true, except false in production on
	// MySQL, where `wxid migrate` runs them before a rollout and start-up
	// only checks that none is pending).
	AutoMigrate bool
	// DBMaxOpenConns bounds the database pool (WXID_DB_MAX_OPEN_CONNS,
	// default 16; SQLite in memory always uses 1).
	DBMaxOpenConns int
	// Memcached lists memcached servers host:port (WXID_MEMCACHED); empty
	// means an in-process cache.
	Memcached []string
	// MemcachedTimeout bounds each memcached call (WXID_MEMCACHED_TIMEOUT,
	// default 150ms).
	MemcachedTimeout time.Duration
	// DefaultAppID is the app a login without appId uses (WXID_WECHAT_APPID).
	DefaultAppID string
	// Apps maps every configured appid to its AppSecret: the default app
	// and WXID_WECHAT_APPS (appid=secret,appid2=secret2).
	Apps map[string]string
	// Sandbox is true when the default app has no AppSecret: wxid then
	// talks to its in-process WeChat stand-in.
	Sandbox bool
	// WeChatAPIBase is the upstream base URL (WXID_WECHAT_API_BASE).
	WeChatAPIBase string
	// WeChatTimeout bounds each WeChat call (WXID_WECHAT_TIMEOUT, default 5s).
	WeChatTimeout time.Duration
	// SecretKey encrypts session_keys at rest (WXID_SECRET_KEY, 32 bytes
	// base64). Generated per process in development when unset.
	SecretKey []byte
	// SecretKeyGenerated reports that SecretKey was generated at start-up.
	SecretKeyGenerated bool
	// SecretKeyPrevious are earlier secret keys still accepted for opening
	// sealed data and verifying what was derived from them
	// (WXID_SECRET_KEY_PREVIOUS, comma-separated base64), so the key can be
	// rotated without logging anyone out.
	SecretKeyPrevious [][]byte
	// TrustedProxies are the networks of load balancers whose
	// X-Forwarded-For is believed for the client IP (WXID_TRUSTED_PROXIES,
	// comma-separated CIDRs or addresses); empty = the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// LoginRateLimit is how many login and how many decryptPhoneNumber calls
	// one client IP may make per minute across the cluster
	// (WXID_LOGIN_RATE_LIMIT, default 600; 0 turns the limit off).
	LoginRateLimit int
	// AdminTokens are the bearer tokens allowed to use admin fields
	// (WXID_ADMIN_TOKENS, comma-separated), each a token or label=token
	// (auth.SplitAdminToken).
	AdminTokens []string
	// SessionTTL is an skey's idle lifetime (WXID_SESSION_TTL, default 30m).
	SessionTTL time.Duration
	// SessionMaxAge is the absolute lifetime of a login
	// (WXID_SESSION_MAX_AGE, default 720h).
	SessionMaxAge time.Duration
	// RefreshGrace is how long a rotated skey keeps working after
	// refreshSession (WXID_REFRESH_GRACE, default 60s).
	RefreshGrace time.Duration
	// PurgeInterval is how often expired and revoked sessions are deleted
	// (WXID_PURGE_INTERVAL, default 10m; 0 disables).
	PurgeInterval time.Duration
	// AuditRetention is how long audit events are kept
	// (WXID_AUDIT_RETENTION): Go durations or whole days, "400d".
	AuditRetention time.Duration
	// StatsLocation is the time zone of the calendar days of userStats
	// (WXID_STATS_TIMEZONE, an IANA name, default Asia/Shanghai).
	StatsLocation *time.Location
	// StatsInterval is how often audit events are folded into the daily
	// user statistics (WXID_STATS_INTERVAL, default 30s; 0 disables the
	// rollup on this instance).
	StatsInterval time.Duration
	// Env is "development" or "production" (WXID_ENV).
	Env string
	// Introspection enables GraphQL introspection (WXID_INTROSPECTION;
	// default on in development, off in production).
	Introspection bool
	// Playground serves GraphiQL at / (WXID_PLAYGROUND; default on in
	// development, off in production).
	Playground bool
	// MaxBodyBytes limits a request body (WXID_MAX_BODY_BYTES, default 64 KiB).
	MaxBodyBytes int64
	// CORSOrigins are the exact origins (scheme://host[:port]) browsers may
	// call /graphql from (WXID_CORS_ORIGINS, comma-separated; empty = no
	// CORS headers).
	CORSOrigins []string
	// ShutdownTimeout bounds graceful shutdown (WXID_SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error (WXID_LOG_LEVEL, default info).
	LogLevel string
	// LogFormat is text or json (WXID_LOG_FORMAT; default text in
	// development, json in production).
	LogFormat string
}

// Production reports whether wxid runs in production.
func (c *Config) Production() bool { return c.Env == EnvProduction }

// String describes the configuration without secrets.
func (c *Config) String() string {
	apps := make([]string, 0, len(c.Apps))
	for id := range c.Apps {
		apps = append(apps, id)
	}
	return fmt.Sprintf("env=%s addr=%s apps=%v default_app=%s sandbox=%t memcached=%v admin_tokens=%d",
		c.Env, c.Addr, apps, c.DefaultAppID, c.Sandbox, c.Memcached, len(c.AdminTokens))
}

type setting struct {
	name  string // env var without WXID_
	def   string
	usage string
}

var settings = []setting{
	{"ADDR", ":8080", "listen address"},
	{"DATABASE_URL", "sqlite://wxid.db", "mysql://user:pass@host:port/db?opts or sqlite://PATH (sqlite://:memory: for a throwaway)"},
	{"AUTO_MIGRATE", "", "apply pending schema migrations at start-up (default: true, except false in production on MySQL)"},
	{"DB_MAX_OPEN_CONNS", "16", "maximum open database connections"},
	{"MEMCACHED", "", "comma-separated memcached host:port list; empty = in-process cache"},
	{"MEMCACHED_TIMEOUT", "150ms", "timeout of one memcached call"},
	{"WECHAT_APPID", "", "the default mini-program's appid"},
	{"WECHAT_SECRET", "", "its AppSecret; empty = sandbox"},
	{"WECHAT_APPS", "", "further apps, appid=secret,appid2=secret2"},
	{"WECHAT_API_BASE", "https://api.weixin.qq.com", "WeChat API base URL"},
	{"WECHAT_TIMEOUT", "5s", "timeout of one WeChat call"},
	{"SECRET_KEY", "", "32 bytes, base64: encrypts session_keys at rest; required in production"},
	{"SECRET_KEY_PREVIOUS", "", "earlier secret keys, comma-separated base64, still accepted so the key can be rotated"},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs of load balancers whose X-Forwarded-For is believed"},
	{"LOGIN_RATE_LIMIT", "600", "login and decryptPhoneNumber calls per client IP per minute, cluster-wide; 0 = off"},
	{"ADMIN_TOKENS", "", "comma-separated bearer tokens that may use admin fields, each token or label=token (the label names the token in the audit trail)"},
	{"SESSION_TTL", "30m", "idle lifetime of an skey"},
	{"SESSION_MAX_AGE", "720h", "absolute lifetime of a login"},
	{"REFRESH_GRACE", "60s", "how long a rotated skey keeps working"},
	{"PURGE_INTERVAL", "10m", "how often dead sessions are purged; 0 disables"},
	{"AUDIT_RETENTION", "400d", "how long audit events are kept (whole days like 400d, or a Go duration); older ones are purged every PURGE_INTERVAL"},
	{"STATS_TIMEZONE", "Asia/Shanghai", "time zone (IANA name) of the calendar days of userStats"},
	{"STATS_INTERVAL", "30s", "how often audit events are folded into userStats' daily figures; 0 disables it on this instance"},
	{"ENV", EnvDevelopment, "development or production"},
	{"INTROSPECTION", "", "GraphQL introspection (default: on in development, off in production)"},
	{"PLAYGROUND", "", "GraphiQL at / (default: on in development, off in production)"},
	{"MAX_BODY_BYTES", "65536", "request body limit in bytes"},
	{"CORS_ORIGINS", "", "comma-separated exact origins (https://admin.example.com) that browsers may call /graphql from; empty = no CORS"},
	{"SHUTDOWN_TIMEOUT", "20s", "graceful shutdown limit"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "", "text or json (default: text in development, json in production)"},
}

// lookup parses the flags in args and returns the value of each setting: a
// flag given on the command line, else WXID_<name>, else the default (set
// reports whether the value was given).
func lookup(args []string, getenv func(string) string) (func(name string) (value string, set bool), error) {
	fs := flag.NewFlagSet("wxid", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := make(map[string]*string, len(settings))
	for _, s := range settings {
		flags[s.name] = fs.String(flagName(s.name), "", s.usage+" (WXID_"+s.name+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parsing flags: %w", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return func(name string) (string, bool) {
		if given[flagName(name)] {
			return *flags[name], true
		}
		if v := strings.TrimSpace(getenv("WXID_" + name)); v != "" {
			return v, true
		}
		for _, s := range settings {
			if s.name == name {
				return s.def, false
			}
		}
		return "", false
	}, nil
}

func flagName(name string) string { return strings.ToLower(strings.ReplaceAll(name, "_", "-")) }

// Load reads the configuration from args (without the program name) and the
// environment, through getenv (os.Getenv in main; a map in tests).
func Load(args []string, getenv func(string) string) (*Config, error) {
	get, err := lookup(args, getenv)
	if err != nil {
		return nil, err
	}
	p := parser{get: get}
	c := &Config{
		Addr:             p.str("ADDR"),
		DatabaseURL:      p.str("DATABASE_URL"),
		DBMaxOpenConns:   p.integer("DB_MAX_OPEN_CONNS"),
		Memcached:        p.list("MEMCACHED"),
		MemcachedTimeout: p.duration("MEMCACHED_TIMEOUT"),
		DefaultAppID:     p.str("WECHAT_APPID"),
		WeChatAPIBase:    strings.TrimRight(p.str("WECHAT_API_BASE"), "/"),
		WeChatTimeout:    p.duration("WECHAT_TIMEOUT"),
		AdminTokens:      p.list("ADMIN_TOKENS"),
		LoginRateLimit:   p.integer("LOGIN_RATE_LIMIT"),
		SessionTTL:       p.duration("SESSION_TTL"),
		SessionMaxAge:    p.duration("SESSION_MAX_AGE"),
		RefreshGrace:     p.duration("REFRESH_GRACE"),
		PurgeInterval:    p.duration("PURGE_INTERVAL"),
		AuditRetention:   p.days("AUDIT_RETENTION"),
		StatsInterval:    p.duration("STATS_INTERVAL"),
		Env:              strings.ToLower(p.str("ENV")),
		MaxBodyBytes:     int64(p.integer("MAX_BODY_BYTES")),
		CORSOrigins:      p.list("CORS_ORIGINS"),
		ShutdownTimeout:  p.duration("SHUTDOWN_TIMEOUT"),
		LogLevel:         strings.ToLower(p.str("LOG_LEVEL")),
		LogFormat:        strings.ToLower(p.str("LOG_FORMAT")),
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		p.fail("WXID_ENV must be %q or %q, got %q", EnvDevelopment, EnvProduction, c.Env)
	}
	dev := !c.Production()
	c.Introspection = p.boolOr("INTROSPECTION", dev)
	c.Playground = p.boolOr("PLAYGROUND", dev)
	c.AutoMigrate = p.boolOr("AUTO_MIGRATE", dev || !strings.HasPrefix(c.DatabaseURL, "mysql://"))
	if c.LogFormat == "" {
		c.LogFormat = map[bool]string{true: "text", false: "json"}[dev]
	}
	c.loadApps(&p)
	c.loadSecretKey(&p)
	c.loadTrustedProxies(&p)
	c.loadStatsLocation(&p)
	c.validate(&p)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

func (c *Config) loadApps(p *parser) {
	secret, _ := p.get("WECHAT_SECRET")
	c.Sandbox = secret == ""
	if c.Sandbox && c.DefaultAppID == "" {
		c.DefaultAppID = SandboxAppID
	}
	c.Apps = map[string]string{}
	if c.DefaultAppID != "" {
		c.Apps[c.DefaultAppID] = secret
	}
	for _, pair := range p.list("WECHAT_APPS") {
		id, sec, ok := strings.Cut(pair, "=")
		id, sec = strings.TrimSpace(id), strings.TrimSpace(sec)
		if !ok || id == "" || (sec == "" && !c.Sandbox) {
			p.fail("WXID_WECHAT_APPS: want appid=secret pairs, got an entry for %q without a secret", id)
			continue
		}
		c.Apps[id] = sec
	}
	if c.DefaultAppID == "" {
		p.fail("WXID_WECHAT_APPID is required when WXID_WECHAT_SECRET is set")
	}
}

func (c *Config) loadSecretKey(p *parser) {
	raw, ok := p.get("SECRET_KEY")
	if !ok {
		if p.str("SECRET_KEY_PREVIOUS") != "" {
			p.fail("WXID_SECRET_KEY_PREVIOUS needs WXID_SECRET_KEY: previous keys only make sense beside a current one")
		}
		if c.Production() {
			p.fail("WXID_SECRET_KEY is required in production (32 random bytes, base64: openssl rand -base64 32)")
			return
		}
		c.SecretKey, c.SecretKeyGenerated = sealer.GenerateKey(), true
		return
	}
	key, err := sealer.ParseKey(raw)
	if err != nil {
		p.fail("WXID_SECRET_KEY: %v", err)
		return
	}
	c.SecretKey = key
	if c.SecretKeyPrevious, err = sealer.ParseKeys(p.str("SECRET_KEY_PREVIOUS")); err != nil {
		p.fail("WXID_SECRET_KEY_PREVIOUS: %v", err)
	}
}

// loadTrustedProxies parses WXID_TRUSTED_PROXIES: CIDRs, or single
// addresses meaning just that host.
func (c *Config) loadTrustedProxies(p *parser) {
	for _, s := range p.list("TRUSTED_PROXIES") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.fail("WXID_TRUSTED_PROXIES: %q is not a CIDR (10.0.0.0/8) or an IP address", s)
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
}

func (c *Config) loadStatsLocation(p *parser) {
	var err error
	if c.StatsLocation, err = time.LoadLocation(p.str("STATS_TIMEZONE")); err != nil {
		p.fail("WXID_STATS_TIMEZONE: %q is not a time zone: use an IANA name such as Asia/Shanghai or UTC", p.str("STATS_TIMEZONE"))
	}
}

func (c *Config) validate(p *parser) {
	if c.Production() && c.Sandbox {
		p.fail("the WeChat sandbox never runs in production: set WXID_WECHAT_APPID and WXID_WECHAT_SECRET")
	}
	if !strings.HasPrefix(c.DatabaseURL, "mysql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		p.fail("WXID_DATABASE_URL must start with mysql:// or sqlite://")
	}
	for _, s := range c.Memcached {
		if _, _, err := net.SplitHostPort(s); err != nil {
			p.fail("WXID_MEMCACHED: %q is not host:port", s)
		}
	}
	for _, o := range c.CORSOrigins {
		if !exactOrigin(o) {
			p.fail("WXID_CORS_ORIGINS: %q is not an exact origin like https://admin.example.com (scheme and host, no path, no wildcard)", o)
		}
	}
	for _, t := range c.AdminTokens {
		if len(t) < 16 {
			p.fail("WXID_ADMIN_TOKENS: every token must be at least 16 characters")
			break
		}
	}
	positive := map[string]time.Duration{
		"WXID_SESSION_TTL": c.SessionTTL, "WXID_SESSION_MAX_AGE": c.SessionMaxAge,
		"WXID_WECHAT_TIMEOUT": c.WeChatTimeout, "WXID_MEMCACHED_TIMEOUT": c.MemcachedTimeout,
	}
	for name, d := range positive {
		if d <= 0 {
			p.fail("%s must be positive", name)
		}
	}
	if c.SessionMaxAge < c.SessionTTL {
		p.fail("WXID_SESSION_MAX_AGE must not be shorter than WXID_SESSION_TTL")
	}
	if c.AuditRetention <= 0 {
		p.fail("WXID_AUDIT_RETENTION must be positive")
	}
	if c.RefreshGrace < 0 || c.PurgeInterval < 0 || c.StatsInterval < 0 {
		p.fail("WXID_REFRESH_GRACE, WXID_PURGE_INTERVAL and WXID_STATS_INTERVAL must not be negative")
	}
	if c.LoginRateLimit < 0 {
		p.fail("WXID_LOGIN_RATE_LIMIT must not be negative (0 turns the limit off)")
	}
	if c.MaxBodyBytes <= 0 || c.DBMaxOpenConns <= 0 {
		p.fail("WXID_MAX_BODY_BYTES and WXID_DB_MAX_OPEN_CONNS must be positive")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.fail("WXID_LOG_LEVEL must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.fail("WXID_LOG_FORMAT must be text or json")
	}
}

// exactOrigin reports whether o is an origin as browsers send it:
// http(s)://host[:port], lower case, with nothing after the authority.
func exactOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.Contains(u.Host, "*") && o == strings.ToLower(o) && u.Scheme+"://"+u.Host == o
}

// parser collects conversion errors so Load reports all of them at once.
type parser struct {
	get  func(string) (string, bool)
	errs []error
}

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) str(name string) string { v, _ := p.get(name); return v }

func (p *parser) list(name string) []string {
	var out []string
	for _, part := range strings.Split(p.str(name), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (p *parser) duration(name string) time.Duration {
	d, err := time.ParseDuration(p.str(name))
	if err != nil {
		p.fail("WXID_%s: %v", name, err)
	}
	return d
}

// days parses a Go duration or a whole number of days ("400d").
func (p *parser) days(name string) time.Duration {
	v := p.str(name)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			p.fail("WXID_%s: %q is not a positive number of days", name, v)
		}
		return time.Duration(d) * 24 * time.Hour
	}
	return p.duration(name)
}

func (p *parser) integer(name string) int {
	n, err := strconv.Atoi(p.str(name))
	if err != nil {
		p.fail("WXID_%s: %v", name, err)
	}
	return n
}

func (p *parser) boolean(name string) bool {
	b, err := strconv.ParseBool(p.str(name))
	if err != nil {
		p.fail("WXID_%s: %v", name, err)
	}
	return b
}

func (p *parser) boolOr(name string, def bool) bool {
	if v, ok := p.get(name); ok && v != "" {
		return p.boolean(name)
	}
	return def
}

// Usage writes the list of settings with their defaults.
func Usage(w io.Writer) {
	for _, s := range settings {
		fmt.Fprintf(w, "  --%-18s WXID_%-18s %s (default %q)\n", flagName(s.name), s.name, s.usage, s.def)
	}
}
