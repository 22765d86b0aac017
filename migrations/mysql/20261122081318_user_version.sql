-- Modify "users" table
ALTER TABLE `users` ADD COLUMN `version` bigint NOT NULL DEFAULT 1, ADD INDEX `user_updated_at_version` (`updated_at`, `version`);
