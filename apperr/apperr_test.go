package apperr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeOf(t *testing.T) {
	require.Equal(t, CodeInternal, CodeOf(errors.New("plain")))
	require.Equal(t, CodeForbidden, CodeOf(fmt.Errorf("wrapped: %w", Forbidden("no"))))
	require.Equal(t, CodeUnauthenticated, CodeOf(Unauthenticated("x")))
	e := Internal(errors.New("dial tcp 10.0.0.1:3306: secret detail"))
	require.Equal(t, "internal error", e.Error(), "the message hides the detail")
}
