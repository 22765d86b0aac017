-- Create "open_ids" table
CREATE TABLE `open_ids` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `appid` text NOT NULL, `openid` text NOT NULL, `session_key` blob NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `open_ids_users_open_ids` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "openid_appid_openid" to table: "open_ids"
CREATE UNIQUE INDEX `openid_appid_openid` ON `open_ids` (`appid`, `openid`);
-- Create index "openid_user_id" to table: "open_ids"
CREATE INDEX `openid_user_id` ON `open_ids` (`user_id`);
-- Create "sessions" table
CREATE TABLE `sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `token_hash` text NOT NULL, `family` text NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `absolute_expires_at` datetime NOT NULL, `last_refreshed_at` datetime NULL, `revoked_at` datetime NULL, `rotated_at` datetime NULL, `successor_token` blob NULL, `client_ip` text NULL, `user_agent` text NULL, `open_id_id` integer NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `sessions_open_ids_sessions` FOREIGN KEY (`open_id_id`) REFERENCES `open_ids` (`id`) ON DELETE NO ACTION, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Set sequence for "sessions" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("sessions", 4294967296);
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create index "session_family" to table: "sessions"
CREATE INDEX `session_family` ON `sessions` (`family`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create "union_ids" table
CREATE TABLE `union_ids` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `unionid` text NOT NULL, `created_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `union_ids_users_union_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Set sequence for "union_ids" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("union_ids", 8589934592);
-- Create index "union_ids_unionid_key" to table: "union_ids"
CREATE UNIQUE INDEX `union_ids_unionid_key` ON `union_ids` (`unionid`);
-- Create index "union_ids_user_id_key" to table: "union_ids"
CREATE UNIQUE INDEX `union_ids_user_id_key` ON `union_ids` (`user_id`);
-- Create "users" table
CREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `phone_number` text NULL, `pure_phone_number` text NULL, `country_code` text NULL, `phone_verified_at` datetime NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `last_login_at` datetime NULL, `disabled` bool NOT NULL DEFAULT (false));
-- Set sequence for "users" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("users", 12884901888);
-- Create index "user_phone_number" to table: "users"
CREATE INDEX `user_phone_number` ON `users` (`phone_number`);
-- Create index "user_pure_phone_number" to table: "users"
CREATE INDEX `user_pure_phone_number` ON `users` (`pure_phone_number`);
-- Create index "user_created_at" to table: "users"
CREATE INDEX `user_created_at` ON `users` (`created_at`);
-- Create index "user_last_login_at" to table: "users"
CREATE INDEX `user_last_login_at` ON `users` (`last_login_at`);
