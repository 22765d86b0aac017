-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_sessions" table
CREATE TABLE `new_sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `token_hash` blob NOT NULL, `family` blob NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `absolute_expires_at` datetime NOT NULL, `last_refreshed_at` datetime NULL, `revoked_at` datetime NULL, `rotated_at` datetime NULL, `successor_token` blob NULL, `client_ip` text NULL, `user_agent` text NULL, `open_id_id` integer NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `sessions_open_ids_sessions` FOREIGN KEY (`open_id_id`) REFERENCES `open_ids` (`id`) ON DELETE NO ACTION, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_sessions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_sessions", 4294967296);
-- Copy rows from old table "sessions" to new temporary table "new_sessions",
-- decoding token_hash and family from hex (by hand); a value that is not hex
-- (wxid never wrote one) keeps its bytes
INSERT INTO `new_sessions` (`id`, `token_hash`, `family`, `created_at`, `expires_at`, `absolute_expires_at`, `last_refreshed_at`, `revoked_at`, `rotated_at`, `successor_token`, `client_ip`, `user_agent`, `open_id_id`, `user_id`) SELECT `id`, coalesce(unhex(`token_hash`), CAST(`token_hash` AS blob)), coalesce(unhex(`family`), CAST(`family` AS blob)), `created_at`, `expires_at`, `absolute_expires_at`, `last_refreshed_at`, `revoked_at`, `rotated_at`, `successor_token`, `client_ip`, `user_agent`, `open_id_id`, `user_id` FROM `sessions`;
-- Drop "sessions" table after copying rows
DROP TABLE `sessions`;
-- Rename temporary table "new_sessions" to "sessions"
ALTER TABLE `new_sessions` RENAME TO `sessions`;
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create index "session_revoked_at" to table: "sessions"
CREATE INDEX `session_revoked_at` ON `sessions` (`revoked_at`);
-- Create index "session_user_id_family" to table: "sessions" (by hand:
-- replaces session_user_id and session_family)
CREATE INDEX `session_user_id_family` ON `sessions` (`user_id`, `family`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
