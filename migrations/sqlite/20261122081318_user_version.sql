-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_users" table
CREATE TABLE `new_users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `phone_number` text NULL, `pure_phone_number` text NULL, `country_code` text NULL, `phone_suffix` text NULL, `phone_verified_at` datetime NULL, `nickname` text NULL, `avatar_url` text NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `version` integer NOT NULL DEFAULT (1), `last_login_at` datetime NULL, `disabled` bool NOT NULL DEFAULT (false), `merged_into_id` integer NULL, `erased_at` datetime NULL);
-- Set sequence for "new_users" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_users", 12884901888);
-- Copy rows from old table "users" to new temporary table "new_users"
INSERT INTO `new_users` (`id`, `phone_number`, `pure_phone_number`, `country_code`, `phone_suffix`, `phone_verified_at`, `nickname`, `avatar_url`, `created_at`, `updated_at`, `last_login_at`, `disabled`, `merged_into_id`, `erased_at`) SELECT `id`, `phone_number`, `pure_phone_number`, `country_code`, `phone_suffix`, `phone_verified_at`, `nickname`, `avatar_url`, `created_at`, `updated_at`, `last_login_at`, `disabled`, `merged_into_id`, `erased_at` FROM `users`;
-- Drop "users" table after copying rows
DROP TABLE `users`;
-- Rename temporary table "new_users" to "users"
ALTER TABLE `new_users` RENAME TO `users`;
-- Create index "user_phone_number" to table: "users"
CREATE INDEX `user_phone_number` ON `users` (`phone_number`);
-- Create index "user_pure_phone_number" to table: "users"
CREATE INDEX `user_pure_phone_number` ON `users` (`pure_phone_number`);
-- Create index "user_phone_suffix" to table: "users"
CREATE INDEX `user_phone_suffix` ON `users` (`phone_suffix`);
-- Create index "user_disabled" to table: "users"
CREATE INDEX `user_disabled` ON `users` (`disabled`);
-- Create index "user_created_at" to table: "users"
CREATE INDEX `user_created_at` ON `users` (`created_at`);
-- Create index "user_last_login_at" to table: "users"
CREATE INDEX `user_last_login_at` ON `users` (`last_login_at`);
-- Create index "user_updated_at_version" to table: "users"
CREATE INDEX `user_updated_at_version` ON `users` (`updated_at`, `version`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
