package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
)

func TestNormalizeNickname(t *testing.T) {
	ok := map[string]string{
		"小明":                    "小明",
		"  Alice ":              "Alice",
		"👨‍👩‍👧 family":          "👨‍👩‍👧 family", // zero-width joiners inside an emoji
		"":                      "",             // clears the nickname
		strings.Repeat("名", 32): strings.Repeat("名", 32),
		"O'Brien-Smith (小王) ❤️": "O'Brien-Smith (小王) ❤️",
	}
	for in, want := range ok {
		got, err := normalizeNickname(&in)
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, *got)
	}
	for _, in := range []string{
		"   ",
		strings.Repeat("名", 33),
		"line\nbreak",
		"tab\there",
		"bidi\u202eoverride",
		"zero\u200bwidth space",
		"private\ue000use",
		"sep\u2028arator",
		"bad \xff utf8",
		"nul\x00",
	} {
		_, err := normalizeNickname(&in)
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err), "%q", in)
	}
	got, err := normalizeNickname(nil)
	require.NoError(t, err)
	require.Nil(t, got, "left out: unchanged")
}

func TestValidateAvatarURL(t *testing.T) {
	for _, u := range []string{"", "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132", "https://cdn.example.com/a.png?x=1"} {
		require.NoError(t, validateAvatarURL(&u), u)
	}
	require.NoError(t, validateAvatarURL(nil))
	for _, u := range []string{
		"http://example.com/a.png",
		"javascript:alert(1)",
		"data:image/png;base64,AAAA",
		"//example.com/a.png",
		"https:///a.png",
		"https://user:pass@example.com/a.png",
		"https://example.com/a b.png",
		"https://example.com/\n",
		"wxfile://tmp_abc.png",
		"https://example.com/" + strings.Repeat("a", MaxAvatarURLBytes),
	} {
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(validateAvatarURL(&u)), u)
	}
}
