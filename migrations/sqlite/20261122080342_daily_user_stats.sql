-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "last_login_at" to table: "open_ids"
ALTER TABLE `open_ids` ADD COLUMN `last_login_at` datetime NULL;
-- Create "new_audit_events" table
CREATE TABLE `new_audit_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `kind` text NOT NULL, `at` datetime NOT NULL, `user_id` integer NULL, `actor` text NOT NULL, `client_ip` text NULL, `new_user` bool NOT NULL DEFAULT (false), `other_user_id` integer NULL, `count` integer NULL, `app_id` text NULL, `first_of_day` bool NOT NULL DEFAULT (false), `first_in_app_of_day` bool NOT NULL DEFAULT (false));
-- Set sequence for "new_audit_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_audit_events", 17179869184);
-- Copy rows from old table "audit_events" to new temporary table "new_audit_events"
INSERT INTO `new_audit_events` (`id`, `kind`, `at`, `user_id`, `actor`, `client_ip`, `new_user`, `other_user_id`, `count`) SELECT `id`, `kind`, `at`, `user_id`, `actor`, `client_ip`, `new_user`, `other_user_id`, `count` FROM `audit_events`;
-- Drop "audit_events" table after copying rows
DROP TABLE `audit_events`;
-- Rename temporary table "new_audit_events" to "audit_events"
ALTER TABLE `new_audit_events` RENAME TO `audit_events`;
-- Create index "auditevent_at" to table: "audit_events"
CREATE INDEX `auditevent_at` ON `audit_events` (`at`);
-- Create index "auditevent_user_id_at" to table: "audit_events"
CREATE INDEX `auditevent_user_id_at` ON `audit_events` (`user_id`, `at`);
-- Create index "auditevent_kind_at" to table: "audit_events"
CREATE INDEX `auditevent_kind_at` ON `audit_events` (`kind`, `at`);
-- Create "daily_user_stats" table
CREATE TABLE `daily_user_stats` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `day` text NOT NULL, `app_id` text NOT NULL, `signups` integer NOT NULL DEFAULT (0), `active_users` integer NOT NULL DEFAULT (0), `phone_verified` integer NOT NULL DEFAULT (0));
-- Set sequence for "daily_user_stats" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("daily_user_stats", 21474836480);
-- Create index "dailyuserstats_app_id_day" to table: "daily_user_stats"
CREATE UNIQUE INDEX `dailyuserstats_app_id_day` ON `daily_user_stats` (`app_id`, `day`);
-- Create "rollup_cursors" table
CREATE TABLE `rollup_cursors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `event_id` integer NOT NULL DEFAULT (0), `updated_at` datetime NOT NULL);
-- Set sequence for "rollup_cursors" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("rollup_cursors", 25769803776);
-- Create index "rollup_cursors_name_key" to table: "rollup_cursors"
CREATE UNIQUE INDEX `rollup_cursors_name_key` ON `rollup_cursors` (`name`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
