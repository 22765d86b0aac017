package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

func TestUnavailableClassification(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"bad connection", driver.ErrBadConn, true},
		{"invalid connection", mysql.ErrInvalidConn, true},
		{"refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"network", &net.OpError{Op: "dial", Err: errors.New("i/o timeout")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"too many connections", &mysql.MySQLError{Number: 1040, Message: "Too many connections"}, true},
		{"duplicate key: an answer", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{"deadlock: an answer", &mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, false},
		{"lock wait timeout: an answer", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false},
		{"anything else", errors.New("sql: no rows in result set"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, unavailable(tc.err))
		})
	}
}

func TestUnavailableError(t *testing.T) {
	cause := &UnavailableError{RetryAfter: 2 * time.Second, Err: driver.ErrBadConn}
	err := fmt.Errorf("reading session: %w", cause)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, driver.ErrBadConn)
	var got *UnavailableError
	require.ErrorAs(t, err, &got)
	require.Equal(t, 2*time.Second, got.RetryAfter)
	require.Equal(t, "database unavailable (circuit open)", (&UnavailableError{}).Error())
	require.NotErrorIs(t, errors.New("database unavailable"), ErrUnavailable)
}

func TestInteractive(t *testing.T) {
	require.False(t, isInteractive(context.Background()))
	require.True(t, isInteractive(Interactive(context.Background())))
}
