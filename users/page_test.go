package users

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPageSize(t *testing.T) {
	n := func(i int) *int { return &i }
	require.Equal(t, DefaultPageSize, PageSize(nil, nil))
	require.Equal(t, 10, PageSize(n(10), nil))
	require.Equal(t, 7, PageSize(nil, n(7)))
	require.Equal(t, MaxPageSize, PageSize(n(1_000_000), nil), "clamped: the resolver answers BAD_USER_INPUT")
	require.Equal(t, 0, PageSize(n(-5), nil))
}
