package wechattest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// SandboxHandler lets a developer or a client test act as the mini-program
// without a phone. The server mounts it at /sandbox/ in sandbox mode only;
// it routes on the last path element, so it works with or without
// http.StripPrefix.
//
//	POST /sandbox/wx.login  {"appId":"...","user":"alice"}
//	  -> {"code":"..."}
//	POST /sandbox/phone     {"appId":"...","user":"alice","phoneNumber":"+8613800138000",
//	                         "countryCode":"86","form":"code"|"encrypted"}
//	  -> {"code":"..."} or {"encryptedData":"...","iv":"..."}
//
// appId defaults to WithDefaultApp's; countryCode to "86"; form to "code".
// The encrypted form needs a session key: exchange a wx.login code first.
// Answers are application/json; bad input answers 400 {"error":"..."}.
func (s *Server) SandboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if name != "wx.login" && name != "phone" {
			sandboxJSON(w, http.StatusNotFound, map[string]string{"error": "not found: use POST wx.login or POST phone"})
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			sandboxJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		var req struct {
			AppID       string `json:"appId"`
			User        string `json:"user"`
			PhoneNumber string `json:"phoneNumber"`
			CountryCode string `json:"countryCode"`
			Form        string `json:"form"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		if err := dec.Decode(&req); err != nil {
			sandboxJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object"})
			return
		}
		if req.AppID == "" {
			req.AppID = s.defaultApp
		}
		out, err := s.sandbox(name, req.AppID, req.User, req.PhoneNumber, req.CountryCode, req.Form)
		if err != nil {
			sandboxJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		sandboxJSON(w, http.StatusOK, out)
	})
}

func (s *Server) sandbox(name, appID, user, phone, country, form string) (map[string]string, error) {
	if appID == "" {
		return nil, errors.New("appId is required (no default app)")
	}
	if user == "" {
		return nil, errors.New("user is required")
	}
	s.mu.Lock()
	_, known := s.apps[appID]
	s.mu.Unlock()
	if !known {
		return nil, errors.New("unknown appId")
	}
	if name == "wx.login" {
		code, err := s.Login(appID, user)
		if err != nil {
			return nil, err
		}
		return map[string]string{"code": code}, nil
	}
	if phone == "" {
		return nil, errors.New("phoneNumber is required")
	}
	switch form {
	case "", "code":
		return map[string]string{"code": s.PhoneCode(appID, user, phone, country)}, nil
	case "encrypted":
		if s.SessionKey(appID, user) == "" {
			return nil, errors.New("user has no session key yet: call wx.login and log in with the code first")
		}
		data, iv, err := s.EncryptPhone(appID, user, phone, country)
		if err != nil {
			return nil, err
		}
		return map[string]string{"encryptedData": data, "iv": iv}, nil
	default:
		return nil, errors.New(`form must be "code" or "encrypted"`)
	}
}

func sandboxJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
