package wechat_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/wechat"
)

// Vectors made with OpenSSL at test-authoring time, independent of our code:
//
//	K=00112233445566778899aabbccddeeff IV=0f0e0d0c0b0a09080706050403020100
//	printf '%s' "$PLAINTEXT" | openssl enc -aes-128-cbc -K $K -iv $IV | base64 -w0
//
// (and with -nopad for the hand-made bad paddings).
const (
	vecKey   = "ABEiM0RVZneImaq7zN3u/w=="
	vecIV    = "Dw4NDAsKCQgHBgUEAwIBAA=="
	vecAppID = "wxa1b2c3d4e5f60718"

	// {"phoneNumber":"+8613800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"timestamp":1700000000,"appid":"wxa1b2c3d4e5f60718"}}
	vecPhone = "1V8KOhSP88/xtQLb10/d2E6PfBOCYV43a4lfBkWHSaAcWzoT8KbxWWizfP3ObhwGloif9Hg4hj7ZdRSlNKbZ+u4GnH9UYZ5iVzqi5X1+87lfNsE3h63N+rZm4stOKzwKpSE1DNf2MJ/aGQI1LEUmFuC6+CVGlRFP12K04Nvpjk14lT2cxS9YNlm2VWemOWKrwoHGv2pbEx0oI+cLHN51kg=="
	// {"phoneNumber":"+15551234567","purePhoneNumber":"5551234567","countryCode":1,"watermark":{"timestamp":1700000001,"appid":"wxa1b2c3d4e5f60718"}}
	vecPhoneNumericCC = "1V8KOhSP88/xtQLb10/d2AgSWjOrShHKkyh7IylThMiiJwY7Z/jz3FtsQ9yZaniWlni3N3+rAAudYzgsHl3un0Oq8m9NN9iyDWS8cpmJFznqk4JHiXslvFM4cPD6jI/pui2CWlzUSj7lkCXVeBJzEriBMu5I2szEth6AXZlhbeEjQ69cLGpkm5XB04moDPjt"
	// {"nickName":"Band","gender":1,"watermark":{"timestamp":1700000002,"appid":"wxa1b2c3d4e5f60718"}}
	vecNotPhone = "tlLzQjN9+eS20lB7gKRZyNgHOBIfj8brVBMNyBimowlyp6XQzkSm3NZp7bfz3I8FGBOgfIO0RHeU+ai/aTuPjtdxZ1swLWn8JgdBfCifeKRkI2VRbFmfTBhnkAdIoCU5H9ouWtxoj122w+DWfVhvEg=="
	// the phone payload with watermark appid wxffffffffffffffff
	vecOtherApp = "1V8KOhSP88/xtQLb10/d2E6PfBOCYV43a4lfBkWHSaAcWzoT8KbxWWizfP3ObhwGloif9Hg4hj7ZdRSlNKbZ+u4GnH9UYZ5iVzqi5X1+87lfNsE3h63N+rZm4stOKzwKpSE1DNf2MJ/aGQI1LEUmFuC6+CVGlRFP12K04Nvpjk236OnVWL2AtBxrqQ7j8KeZ6eNSoElPgpcvgVDaORWH0A=="
	// 0123456789abcdef (16 bytes: a whole block of padding follows)
	vecNotJSON = "8E+m3oFjRdwZFPbwTcj8OT31vvLo8ODBuCPVfeGmpco="
	// "not json at all"
	vecNotJSON2 = "BhdBaqCe8+OWSc18NHzWCA=="
	// -nopad blocks ending in bad padding: \x00; \x03\x02\x03; \x11; and sixteen \x10 (valid, empty plaintext)
	vecPad00    = "VXxek5mXLbBPR+4ue1+HLQ=="
	vecPadMixed = "HQqlsg/RTxenT3W0om11GQ=="
	vecPad17    = "YpDXdGLrmTq/V5yp+pq2hA=="
	vecPadEmpty = "2PQ/xjktjc7Tr0iUev7u5A=="
)

// WeChat's official decrypt demo (a wx.getUserInfo payload).
const (
	officialAppID      = "wx4f4bc4dec97d474b"
	officialSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	officialIV         = "r7BXXKkLb8qrSNn05n0qiA=="
	officialData       = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

func TestDecryptOfficialSample(t *testing.T) {
	pt, err := wechat.Decrypt(officialSessionKey, officialData, officialIV)
	require.NoError(t, err)
	var info struct {
		OpenID    string `json:"openId"`
		NickName  string `json:"nickName"`
		UnionID   string `json:"unionId"`
		Watermark wechat.Watermark
	}
	require.NoError(t, json.Unmarshal(pt, &info))
	require.Equal(t, "oGZUI0egBJY1zhBYw2KhdUfwVJJE", info.OpenID)
	require.Equal(t, "Band", info.NickName)
	require.Equal(t, "ocMvos6NjeKLIBqg5Mr9QjxrP1FA", info.UnionID)
	require.Equal(t, wechat.Watermark{Timestamp: 1477314187, AppID: officialAppID}, info.Watermark)

	// A user profile is no phone number.
	_, err = wechat.DecryptPhoneNumber(officialSessionKey, officialData, officialIV, officialAppID)
	require.Same(t, wechat.ErrDecrypt, err)
}

func TestDecryptPhoneNumberVectors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want wechat.PhoneInfo
	}{
		{
			name: "country code as string",
			data: vecPhone,
			want: wechat.PhoneInfo{
				PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
				Watermark: wechat.Watermark{Timestamp: 1700000000, AppID: vecAppID},
			},
		},
		{
			name: "country code as number",
			data: vecPhoneNumericCC,
			want: wechat.PhoneInfo{
				PhoneNumber: "+15551234567", PurePhoneNumber: "5551234567", CountryCode: "1",
				Watermark: wechat.Watermark{Timestamp: 1700000001, AppID: vecAppID},
			},
		},
		{
			name: "plus mangled to space by form encoding",
			data: strings.ReplaceAll(vecPhone, "+", " "),
			want: wechat.PhoneInfo{
				PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
				Watermark: wechat.Watermark{Timestamp: 1700000000, AppID: vecAppID},
			},
		},
	}
	require.Contains(t, vecPhone, "+", "the vector must exercise the repair")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wechat.DecryptPhoneNumber(vecKey, tc.data, vecIV, vecAppID)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecryptFailuresAreUniform(t *testing.T) {
	tests := []struct {
		name    string
		key, iv string
		data    string
		appID   string
	}{
		{name: "not a phone payload", data: vecNotPhone},
		{name: "watermark of another app", data: vecOtherApp},
		{name: "empty app id never matches", data: vecPhone, appID: "-"},
		{name: "plaintext not JSON", data: vecNotJSON},
		{name: "plaintext not JSON, short", data: vecNotJSON2},
		{name: "pad byte zero", data: vecPad00},
		{name: "pad bytes differ", data: vecPadMixed},
		{name: "pad byte over 16", data: vecPad17},
		{name: "empty plaintext", data: vecPadEmpty},
		{name: "wrong session key (rotated by a later wx.login)", key: "AAAAAAAAAAAAAAAAAAAAAA==", data: vecPhone},
		{name: "wrong iv", iv: "AAAAAAAAAAAAAAAAAAAAAA==", data: vecPhone},
		{name: "official sample under our key", data: officialData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, iv, appID := arg(tc.key, vecKey), arg(tc.iv, vecIV), arg(tc.appID, vecAppID)
			_, err := wechat.DecryptPhoneNumber(key, tc.data, iv, appID)
			require.Same(t, wechat.ErrDecrypt, err)
			require.Equal(t, "wechat: decryption failed", err.Error())
		})
	}
}

func TestDecryptPadding(t *testing.T) {
	pt, err := wechat.Decrypt(vecKey, vecNotJSON, vecIV)
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef", string(pt))

	pt, err = wechat.Decrypt(vecKey, vecPadEmpty, vecIV)
	require.NoError(t, err)
	require.Empty(t, pt)

	for _, data := range []string{vecPad00, vecPadMixed, vecPad17} {
		_, err := wechat.Decrypt(vecKey, data, vecIV)
		require.Same(t, wechat.ErrDecrypt, err)
	}
}

func TestDecryptMalformedIsUniform(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	// Empty fields take the valid vector's value; "-" stands for "".
	tests := []struct {
		name          string
		key, iv, data string
	}{
		{name: "bad base64 data", data: "!!!!not base64!!!!"},
		{name: "data without padding", data: strings.TrimRight(vecPhone, "=")},
		{name: "url-safe base64 data", data: strings.NewReplacer("+", "-", "/", "_").Replace(vecPhone)},
		{name: "data with a line break", data: vecPhone[:64] + "\n" + vecPhone[64:]},
		{name: "empty data", data: "-"},
		{name: "data not a multiple of 16", data: b64(make([]byte, 15))},
		{name: "data 17 bytes", data: b64(make([]byte, 17))},
		{name: "data too long", data: b64(make([]byte, wechat.MaxEncryptedDataLen))},
		{name: "key 23 chars", key: vecKey[:23]},
		{name: "key 25 chars", key: vecKey + "="},
		{name: "key 24 chars not base64", key: "ABEiM0RVZneImaq7zN3u/w!="},
		{name: "key 24 chars of 17 bytes", key: b64(make([]byte, 17))[:24]},
		{name: "key empty", key: "-"},
		{name: "iv short", iv: b64(make([]byte, 12))},
		{name: "iv long", iv: b64(make([]byte, 17))},
		{name: "iv not base64", iv: "Dw4NDAsKCQgHBgUEAwIBAA*="},
		{name: "iv empty", iv: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, iv, data := arg(tc.key, vecKey), arg(tc.iv, vecIV), arg(tc.data, vecPhone)
			_, err := wechat.Decrypt(key, data, iv)
			require.Same(t, wechat.ErrMalformed, err)
			_, err = wechat.DecryptPhoneNumber(key, data, iv, vecAppID)
			require.Same(t, wechat.ErrMalformed, err)
			require.Equal(t, "wechat: malformed encrypted data", err.Error())
		})
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	payload := []byte(`{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86,"watermark":{"timestamp":1,"appid":"wxapp"}}`)
	data, iv, err := wechat.Encrypt(vecKey, payload)
	require.NoError(t, err)
	data2, iv2, err := wechat.Encrypt(vecKey, payload)
	require.NoError(t, err)
	require.NotEqual(t, iv, iv2, "iv must be random")
	require.NotEqual(t, data, data2)

	pt, err := wechat.Decrypt(vecKey, data, iv)
	require.NoError(t, err)
	require.Equal(t, payload, pt)

	info, err := wechat.DecryptPhoneNumber(vecKey, data, iv, "wxapp")
	require.NoError(t, err)
	require.Equal(t, "86", info.CountryCode)

	for _, n := range []int{0, 1, 15, 16, 17, 31, 32} {
		pt := []byte(strings.Repeat("x", n))
		data, iv, err := wechat.Encrypt(vecKey, pt)
		require.NoError(t, err)
		raw, _ := base64.StdEncoding.DecodeString(data)
		require.Len(t, raw, (n/16+1)*16, "PKCS#7 always adds 1..16 bytes")
		got, err := wechat.Decrypt(vecKey, data, iv)
		require.NoError(t, err)
		require.Equal(t, string(pt), string(got))
	}

	_, _, err = wechat.Encrypt("short", payload)
	require.Same(t, wechat.ErrMalformed, err)
}

func FuzzDecryptPhoneNumber(f *testing.F) {
	f.Add(vecKey, vecPhone, vecIV, vecAppID)
	f.Add(vecKey, vecPhoneNumericCC, vecIV, vecAppID)
	f.Add(vecKey, vecNotPhone, vecIV, vecAppID)
	f.Add(vecKey, vecPad17, vecIV, vecAppID)
	f.Add(vecKey, vecNotJSON, vecIV, "")
	f.Add(officialSessionKey, officialData, officialIV, officialAppID)
	f.Add(vecKey, strings.ReplaceAll(vecPhone, "+", " "), vecIV, vecAppID)
	f.Add("", "", "", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA=", "AAAA", "AAAA", "x")
	f.Fuzz(func(t *testing.T, key, data, iv, appID string) {
		info, err := wechat.DecryptPhoneNumber(key, data, iv, appID)
		switch err {
		case nil:
			require.NotEmpty(t, info.PhoneNumber)
			require.NotEmpty(t, info.PurePhoneNumber)
			require.Equal(t, appID, info.Watermark.AppID)
		case wechat.ErrMalformed, wechat.ErrDecrypt:
			require.Zero(t, info)
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// arg is v, def when v is empty, and "" when v is "-".
func arg(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}

// FuzzDecryptBytes reaches past the base64 and length checks: raw blocks
// exercise the padding check, encrypted plaintexts the JSON checks.
func FuzzDecryptBytes(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte(`{"phoneNumber":"1","purePhoneNumber":"1","countryCode":1,"watermark":{"appid":"wxa1b2c3d4e5f60718"}}`))
	f.Add([]byte{}, []byte(`{"countryCode":{},"watermark":{"appid":"wxa1b2c3d4e5f60718"}}`))
	f.Add(make([]byte, 33), []byte("null"))
	f.Fuzz(func(t *testing.T, raw, plaintext []byte) {
		if n := len(raw) / 16 * 16; n > 0 {
			_, err := wechat.DecryptPhoneNumber(vecKey, base64.StdEncoding.EncodeToString(raw[:n]), vecIV, vecAppID)
			require.True(t, err == nil || err == wechat.ErrDecrypt, "unexpected %v", err)
		}
		data, iv, err := wechat.Encrypt(vecKey, plaintext)
		require.NoError(t, err)
		pt, err := wechat.Decrypt(vecKey, data, iv)
		require.NoError(t, err)
		require.Equal(t, string(plaintext), string(pt))
		info, err := wechat.DecryptPhoneNumber(vecKey, data, iv, vecAppID)
		if err != nil {
			require.Same(t, wechat.ErrDecrypt, err)
			return
		}
		require.NotEmpty(t, info.PhoneNumber)
		require.Equal(t, vecAppID, info.Watermark.AppID)
	})
}

func TestWellFormedCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"0a3Xbh000Q1bYL1Tkp100aHXnc3Xbh0O", true},
		{"", false},
		{strings.Repeat("a", wechat.MaxCodeLen), true},
		{strings.Repeat("a", wechat.MaxCodeLen+1), false},
		{"abc def", false},
		{"abc\x00def", false},
		{"abc\x7f", false},
		{"abc\n", false},
		{"abc\u00e9", false},
		{"\u4ee3\u7801", false},
		{"abc\xff", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, wechat.WellFormedCode(tc.code), "%q", tc.code)
	}
}
