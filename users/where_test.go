package users

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
)

func TestBroadEdges(t *testing.T) {
	s := func(v string) *string { return &v }
	yes := true
	require.False(t, broadEdges(nil))
	require.False(t, broadEdges(&ent.UserWhereInput{PhoneNumber: s("+86")}))
	require.False(t, broadEdges(&ent.UserWhereInput{HasOpenIdsWith: []*ent.OpenIDWhereInput{{Openid: s("o")}}}), "one openid is selective")
	require.False(t, broadEdges(&ent.UserWhereInput{HasOpenIdsWith: []*ent.OpenIDWhereInput{{Appid: s("wx"), Openid: s("o")}}}))
	require.False(t, broadEdges(&ent.UserWhereInput{HasUnionIDWith: []*ent.UnionIDWhereInput{{Unionid: s("u")}}}))
	require.True(t, broadEdges(&ent.UserWhereInput{HasOpenIdsWith: []*ent.OpenIDWhereInput{{Appid: s("wx")}}}), "every user of an app")
	require.True(t, broadEdges(&ent.UserWhereInput{HasUnionID: &yes}))
	require.True(t, broadEdges(&ent.UserWhereInput{And: []*ent.UserWhereInput{{}, {HasOpenIds: &yes}}}))
}
