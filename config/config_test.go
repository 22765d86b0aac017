package config

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "sqlite://wxid.db", c.DatabaseURL)
	require.True(t, c.Sandbox)
	require.Equal(t, SandboxAppID, c.DefaultAppID)
	require.Contains(t, c.Apps, SandboxAppID)
	require.True(t, c.SecretKeyGenerated)
	require.Len(t, c.SecretKey, 32)
	require.Equal(t, 30*time.Minute, c.SessionTTL)
	require.Equal(t, 720*time.Hour, c.SessionMaxAge)
	require.Equal(t, 60*time.Second, c.RefreshGrace)
	require.True(t, c.Introspection)
	require.True(t, c.Playground)
	require.True(t, c.AutoMigrate)
	require.Equal(t, "https://api.weixin.qq.com", c.WeChatAPIBase)
	require.Equal(t, 5*time.Second, c.WeChatTimeout)
	require.Equal(t, "text", c.LogFormat)
	require.Equal(t, 400*24*time.Hour, c.AuditRetention)
}

func TestLoad(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	prod := map[string]string{
		"WXID_ENV": "production", "WXID_WECHAT_APPID": "wxa", "WXID_WECHAT_SECRET": "sa",
		"WXID_SECRET_KEY": key, "WXID_DATABASE_URL": "mysql://u:p@db:3306/wxid",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		err   string
		check func(t *testing.T, c *Config)
	}{
		{name: "production", env: prod, check: func(t *testing.T, c *Config) {
			require.False(t, c.Sandbox)
			require.False(t, c.Introspection)
			require.False(t, c.Playground)
			require.Equal(t, "json", c.LogFormat)
			require.Equal(t, map[string]string{"wxa": "sa"}, c.Apps)
		}},
		{name: "production on MySQL does not migrate at start-up", env: prod, check: func(t *testing.T, c *Config) {
			require.False(t, c.AutoMigrate)
		}},
		{name: "production on MySQL can migrate at start-up", env: with(prod, "WXID_AUTO_MIGRATE", "true"), check: func(t *testing.T, c *Config) {
			require.True(t, c.AutoMigrate)
		}},
		{name: "production on SQLite migrates at start-up", env: with(prod, "WXID_DATABASE_URL", "sqlite:///var/lib/wxid/wxid.db"), check: func(t *testing.T, c *Config) {
			require.True(t, c.AutoMigrate)
		}},
		{name: "automatic migration can be turned off", env: map[string]string{"WXID_AUTO_MIGRATE": "false"}, check: func(t *testing.T, c *Config) {
			require.False(t, c.AutoMigrate)
		}},
		{name: "bad automatic migration flag", env: map[string]string{"WXID_AUTO_MIGRATE": "maybe"}, err: "WXID_AUTO_MIGRATE"},
		{name: "production refuses the sandbox", env: with(prod, "WXID_WECHAT_SECRET", ""), err: "sandbox never runs in production"},
		{name: "production needs a secret key", env: with(prod, "WXID_SECRET_KEY", ""), err: "WXID_SECRET_KEY is required"},
		{name: "short secret key", env: with(prod, "WXID_SECRET_KEY", base64.StdEncoding.EncodeToString(make([]byte, 16))), err: "32 bytes"},
		{name: "introspection can be enabled", env: with(prod, "WXID_INTROSPECTION", "true"), check: func(t *testing.T, c *Config) {
			require.True(t, c.Introspection)
		}},
		{name: "several apps", env: with(prod, "WXID_WECHAT_APPS", "wxb=sb, wxc=sc"), check: func(t *testing.T, c *Config) {
			require.Equal(t, map[string]string{"wxa": "sa", "wxb": "sb", "wxc": "sc"}, c.Apps)
		}},
		{name: "app without secret", env: with(prod, "WXID_WECHAT_APPS", "wxb"), err: "appid=secret"},
		{name: "secret without appid", env: map[string]string{"WXID_WECHAT_SECRET": "s"}, err: "WXID_WECHAT_APPID is required"},
		{name: "memcached list", env: map[string]string{"WXID_MEMCACHED": "a:11211, b:11211"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, []string{"a:11211", "b:11211"}, c.Memcached)
		}},
		{name: "memcached without port", env: map[string]string{"WXID_MEMCACHED": "a"}, err: "not host:port"},
		{name: "bad duration", env: map[string]string{"WXID_SESSION_TTL": "soon"}, err: "WXID_SESSION_TTL"},
		{name: "max age shorter than ttl", env: map[string]string{"WXID_SESSION_MAX_AGE": "10m"}, err: "WXID_SESSION_MAX_AGE"},
		{name: "bad database url", env: map[string]string{"WXID_DATABASE_URL": "postgres://x"}, err: "mysql:// or sqlite://"},
		{name: "cors origins", env: map[string]string{"WXID_CORS_ORIGINS": "https://admin.example.com, http://localhost:5173"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, []string{"https://admin.example.com", "http://localhost:5173"}, c.CORSOrigins)
		}},
		{name: "cors wildcard", env: map[string]string{"WXID_CORS_ORIGINS": "*"}, err: "not an exact origin"},
		{name: "cors subdomain wildcard", env: map[string]string{"WXID_CORS_ORIGINS": "https://*.example.com"}, err: "not an exact origin"},
		{name: "cors origin with a path", env: map[string]string{"WXID_CORS_ORIGINS": "https://admin.example.com/"}, err: "not an exact origin"},
		{name: "cors origin without scheme", env: map[string]string{"WXID_CORS_ORIGINS": "admin.example.com"}, err: "not an exact origin"},
		{name: "cors origin in upper case", env: map[string]string{"WXID_CORS_ORIGINS": "https://Admin.example.com"}, err: "not an exact origin"},
		{name: "short admin token", env: map[string]string{"WXID_ADMIN_TOKENS": "short"}, err: "at least 16"},
		{name: "audit retention in days", env: map[string]string{"WXID_AUDIT_RETENTION": "30d"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, 30*24*time.Hour, c.AuditRetention)
		}},
		{name: "audit retention as a duration", env: map[string]string{"WXID_AUDIT_RETENTION": "36h"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, 36*time.Hour, c.AuditRetention)
		}},
		{name: "bad audit retention", env: map[string]string{"WXID_AUDIT_RETENTION": "0d"}, err: "WXID_AUDIT_RETENTION"},
		{name: "labelled admin token", env: map[string]string{"WXID_ADMIN_TOKENS": "ops=admin-token-0123456789"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, []string{"ops=admin-token-0123456789"}, c.AdminTokens)
		}},
		{name: "bad env", env: map[string]string{"WXID_ENV": "staging"}, err: "WXID_ENV"},
		{name: "flags win", env: map[string]string{"WXID_ADDR": ":1"}, args: []string{"--addr", ":2", "--session-ttl", "10m"}, check: func(t *testing.T, c *Config) {
			require.Equal(t, ":2", c.Addr)
			require.Equal(t, 10*time.Minute, c.SessionTTL)
		}},
		{name: "unknown flag", args: []string{"--nope"}, err: "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, env(tc.env))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestStringHasNoSecrets(t *testing.T) {
	c, err := Load(nil, env(map[string]string{
		"WXID_WECHAT_APPID": "wxa", "WXID_WECHAT_SECRET": "topsecret-app",
		"WXID_ADMIN_TOKENS": "admin-token-very-secret", "WXID_DATABASE_URL": "mysql://u:dbpassword@h/db",
	}))
	require.NoError(t, err)
	s := c.String()
	for _, secret := range []string{"topsecret-app", "admin-token-very-secret", "dbpassword", base64.StdEncoding.EncodeToString(c.SecretKey)} {
		require.False(t, strings.Contains(s, secret), "String() leaks %q", secret)
	}
}

func TestLoadRotationProxiesAndRateLimit(t *testing.T) {
	cur, old1, old2 := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	old1[0], old2[0] = 1, 2
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name  string
		env   map[string]string
		err   string
		check func(t *testing.T, c *Config)
	}{
		{name: "defaults", env: nil, check: func(t *testing.T, c *Config) {
			require.Equal(t, 600, c.LoginRateLimit)
			require.Empty(t, c.TrustedProxies)
			require.Empty(t, c.SecretKeyPrevious)
		}},
		{name: "previous keys", env: map[string]string{"WXID_SECRET_KEY": b64(cur), "WXID_SECRET_KEY_PREVIOUS": b64(old1) + ", " + b64(old2)},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, cur, c.SecretKey)
				require.Equal(t, [][]byte{old1, old2}, c.SecretKeyPrevious)
			}},
		{name: "bad previous key", env: map[string]string{"WXID_SECRET_KEY": b64(cur), "WXID_SECRET_KEY_PREVIOUS": b64(old1) + ",short"}, err: "WXID_SECRET_KEY_PREVIOUS: key 2"},
		{name: "previous key without a current one", env: map[string]string{"WXID_SECRET_KEY_PREVIOUS": b64(old1)}, err: "needs WXID_SECRET_KEY"},
		{name: "trusted proxies", env: map[string]string{"WXID_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7, fd00::1/64"},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/64"),
				}, c.TrustedProxies)
			}},
		{name: "bad trusted proxy", env: map[string]string{"WXID_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}, err: `"lb.internal" is not a CIDR`},
		{name: "rate limit off", env: map[string]string{"WXID_LOGIN_RATE_LIMIT": "0"}, check: func(t *testing.T, c *Config) {
			require.Zero(t, c.LoginRateLimit)
		}},
		{name: "negative rate limit", env: map[string]string{"WXID_LOGIN_RATE_LIMIT": "-1"}, err: "WXID_LOGIN_RATE_LIMIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(nil, env(tc.env))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}
