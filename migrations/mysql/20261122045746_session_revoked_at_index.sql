-- Modify "sessions" table
ALTER TABLE `sessions` ADD INDEX `session_revoked_at` (`revoked_at`);
