package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxid/wxid/ent"
)

// WithTx runs fn in one transaction of db, opened with opts (nil for the
// driver's defaults): it commits when fn returns nil and rolls back when fn
// fails or panics.
func WithTx(ctx context.Context, db *ent.Client, opts *sql.TxOptions, fn func(tx *ent.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}
