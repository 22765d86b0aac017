package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Errors of Decrypt, DecryptPhoneNumber and Encrypt. They are returned as
// is, never wrapped, so every failure of one kind has the same value and
// message.
var (
	// ErrMalformed: the input is malformed before any cryptography: not
	// standard padded base64, a session key that is not 24 base64
	// characters (16 bytes), an iv that is not 16 bytes, a ciphertext that
	// is empty, not a multiple of 16 bytes or longer than
	// MaxEncryptedDataLen. Callers answer BAD_USER_INPUT.
	ErrMalformed = errors.New("wechat: malformed encrypted data")
	// ErrDecrypt: anything that goes wrong once decryption starts: bad
	// padding (usually a session key replaced by a later wx.login), a
	// plaintext that is not the expected JSON, a watermark for another app,
	// no phone number. One value with no detail, so the endpoint is no
	// padding oracle. Callers answer DECRYPT_FAILED.
	ErrDecrypt = errors.New("wechat: decryption failed")
)

// MaxEncryptedDataLen caps the base64 text of encryptedData (far above the
// few hundred bytes of a phone number or user profile).
const MaxEncryptedDataLen = 64 << 10

// DecodeBase64 decodes standard padded base64 as WeChat's encryptedData,
// iv and session_key use it. Spaces are first turned back into '+': form
// and URL encoding often turn '+' into a space on the way from the
// mini-program. Line breaks, URL-safe characters and missing padding are
// rejected.
func DecodeBase64(s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	s = strings.ReplaceAll(s, " ", "+")
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// decodeKey decodes a session key: exactly 24 base64 characters, 16 bytes.
func decodeKey(sessionKey string) ([]byte, bool) {
	if len(sessionKey) != 24 {
		return nil, false
	}
	k, ok := DecodeBase64(sessionKey)
	return k, ok && len(k) == aes.BlockSize
}

// Decrypt decrypts encryptedData (AES-128-CBC, key = base64-decoded
// sessionKey, iv = base64-decoded iv) and strips its PKCS#7 padding
// strictly. All three arguments are standard padded base64, with spaces
// read as '+'. It returns ErrMalformed or ErrDecrypt, never anything else,
// and never panics.
func Decrypt(sessionKey, encryptedData, iv string) ([]byte, error) {
	key, ok := decodeKey(sessionKey)
	if !ok {
		return nil, ErrMalformed
	}
	ivb, ok := DecodeBase64(iv)
	if !ok || len(ivb) != aes.BlockSize {
		return nil, ErrMalformed
	}
	if len(encryptedData) > MaxEncryptedDataLen {
		return nil, ErrMalformed
	}
	ct, ok := DecodeBase64(encryptedData)
	if !ok || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrMalformed
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrMalformed
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(pt, ct)
	out, ok := unpad(pt)
	if !ok {
		return nil, ErrDecrypt
	}
	return out, nil
}

// unpad strips PKCS#7 padding: the last byte n is 1..16 and the last n
// bytes all equal n. The last block is examined in full whatever n is, so
// the time taken does not depend on where the padding goes wrong.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, aes.BlockSize)
	for i := 0; i < aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i+1, n)
		eq := subtle.ConstantTimeByteEq(b[len(b)-1-i], byte(n))
		good &= (1 ^ inPad) | eq
	}
	if good != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}

// pad appends PKCS#7 padding (1..16 bytes).
func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// DecryptPhoneNumber decrypts getPhoneNumber's old form and returns the
// phone number. The plaintext must be a JSON object whose watermark.appid
// equals appID (an empty appID never matches) and whose phoneNumber and
// purePhoneNumber are set; countryCode may be a string or a number. The
// watermark timestamp is not checked: the data is bound to the current
// session key already. Errors are ErrMalformed or ErrDecrypt, unwrapped.
func DecryptPhoneNumber(sessionKey, encryptedData, iv, appID string) (PhoneInfo, error) {
	pt, err := Decrypt(sessionKey, encryptedData, iv)
	if err != nil {
		return PhoneInfo{}, err
	}
	var p phonePayload
	if err := json.Unmarshal(pt, &p); err != nil {
		return PhoneInfo{}, ErrDecrypt
	}
	if appID == "" || p.Watermark.AppID != appID || p.PhoneNumber == "" || p.PurePhoneNumber == "" {
		return PhoneInfo{}, ErrDecrypt
	}
	return p.info(), nil
}

// Encrypt encrypts plaintext the way WeChat produces encryptedData: under
// sessionKey with a random iv, AES-128-CBC and PKCS#7. The stand-in and the
// tests use it. It fails with ErrMalformed when sessionKey is not 24 base64
// characters.
func Encrypt(sessionKey string, plaintext []byte) (encryptedData, iv string, err error) {
	key, ok := decodeKey(sessionKey)
	if !ok {
		return "", "", ErrMalformed
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", "", ErrMalformed
	}
	ivb := make([]byte, aes.BlockSize)
	if _, err := rand.Read(ivb); err != nil {
		return "", "", err
	}
	buf := pad(append([]byte(nil), plaintext...))
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), base64.StdEncoding.EncodeToString(ivb), nil
}

// phonePayload is the phone JSON of both getPhoneNumber forms, with
// countryCode as a string or a number.
type phonePayload struct {
	PhoneNumber     string     `json:"phoneNumber"`
	PurePhoneNumber string     `json:"purePhoneNumber"`
	CountryCode     flexString `json:"countryCode"`
	Watermark       Watermark  `json:"watermark"`
}

func (p *phonePayload) info() PhoneInfo {
	return PhoneInfo{
		PhoneNumber:     p.PhoneNumber,
		PurePhoneNumber: p.PurePhoneNumber,
		CountryCode:     string(p.CountryCode),
		Watermark:       p.Watermark,
	}
}

// flexString decodes a JSON string or number into its text.
type flexString string

// UnmarshalJSON accepts a string, a number (kept as written) or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
		return nil
	}
}
