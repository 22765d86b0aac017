-- Create index "session_revoked_at" to table: "sessions"
CREATE INDEX `session_revoked_at` ON `sessions` (`revoked_at`);
