package users

// SessionKeyAAD is the additional data a sealed session_key is bound to:
// the OpenID row (appid, openid) whose session_key column holds it. Login
// seals a session_key with it and the phone service opens one with it, so
// a sealed key copied onto another row does not open.
func SessionKeyAAD(appID, openID string) []byte {
	return []byte("session_key\x00" + appID + "\x00" + openID)
}
