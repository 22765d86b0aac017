-- The schema wxid's automatic migration (ent's Schema.Create) created on SQLite
-- before versioned migrations existed (commit 1f1a69e): what a database of the
-- previous release looks like. Frozen: never regenerate it.
CREATE TABLE `open_ids` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `appid` text NOT NULL, `openid` text NOT NULL, `session_key` blob NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `open_ids_users_open_ids` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
CREATE UNIQUE INDEX `openid_appid_openid` ON `open_ids` (`appid`, `openid`);
CREATE INDEX `openid_user_id` ON `open_ids` (`user_id`);
CREATE TABLE `sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `token_hash` text NOT NULL, `family` text NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `absolute_expires_at` datetime NOT NULL, `last_refreshed_at` datetime NULL, `revoked_at` datetime NULL, `rotated_at` datetime NULL, `successor_token` blob NULL, `client_ip` text NULL, `user_agent` text NULL, `open_id_id` integer NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `sessions_open_ids_sessions` FOREIGN KEY (`open_id_id`) REFERENCES `open_ids` (`id`) ON DELETE NO ACTION, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
CREATE INDEX `session_family` ON `sessions` (`family`);
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
CREATE TABLE `union_ids` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `unionid` text NOT NULL, `created_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `union_ids_users_union_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
CREATE UNIQUE INDEX `union_ids_unionid_key` ON `union_ids` (`unionid`);
CREATE UNIQUE INDEX `union_ids_user_id_key` ON `union_ids` (`user_id`);
CREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `phone_number` text NULL, `pure_phone_number` text NULL, `country_code` text NULL, `phone_verified_at` datetime NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `last_login_at` datetime NULL, `disabled` bool NOT NULL DEFAULT (false));
CREATE INDEX `user_phone_number` ON `users` (`phone_number`);
CREATE INDEX `user_pure_phone_number` ON `users` (`pure_phone_number`);
CREATE INDEX `user_created_at` ON `users` (`created_at`);
CREATE INDEX `user_last_login_at` ON `users` (`last_login_at`);
INSERT INTO sqlite_sequence (name, seq) VALUES ('sessions', 4294967296);
INSERT INTO sqlite_sequence (name, seq) VALUES ('union_ids', 8589934592);
INSERT INTO sqlite_sequence (name, seq) VALUES ('users', 12884901888);
