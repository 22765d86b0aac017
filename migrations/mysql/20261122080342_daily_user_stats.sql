-- Modify "audit_events" table
ALTER TABLE `audit_events` ADD COLUMN `app_id` varchar(64) NULL, ADD COLUMN `first_of_day` bool NOT NULL DEFAULT 0, ADD COLUMN `first_in_app_of_day` bool NOT NULL DEFAULT 0;
-- Modify "open_ids" table
ALTER TABLE `open_ids` ADD COLUMN `last_login_at` timestamp NULL;
-- Create "daily_user_stats" table
CREATE TABLE `daily_user_stats` (`id` bigint NOT NULL AUTO_INCREMENT, `day` varchar(10) NOT NULL, `app_id` varchar(64) NOT NULL, `signups` bigint NOT NULL DEFAULT 0, `active_users` bigint NOT NULL DEFAULT 0, `phone_verified` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), UNIQUE INDEX `dailyuserstats_app_id_day` (`app_id`, `day`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 21474836480;
-- Create "rollup_cursors" table
CREATE TABLE `rollup_cursors` (`id` bigint NOT NULL AUTO_INCREMENT, `name` varchar(32) NOT NULL, `event_id` bigint NOT NULL DEFAULT 0, `updated_at` timestamp NULL, PRIMARY KEY (`id`), UNIQUE INDEX `name` (`name`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 25769803776;
