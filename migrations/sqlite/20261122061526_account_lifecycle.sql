-- Add column "nickname" to table: "users"
ALTER TABLE `users` ADD COLUMN `nickname` text NULL;
-- Add column "avatar_url" to table: "users"
ALTER TABLE `users` ADD COLUMN `avatar_url` text NULL;
-- Add column "merged_into_id" to table: "users"
ALTER TABLE `users` ADD COLUMN `merged_into_id` integer NULL;
-- Add column "erased_at" to table: "users"
ALTER TABLE `users` ADD COLUMN `erased_at` datetime NULL;
-- Create "audit_events" table
CREATE TABLE `audit_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `kind` text NOT NULL, `at` datetime NOT NULL, `user_id` integer NULL, `actor` text NOT NULL, `client_ip` text NULL, `new_user` bool NOT NULL DEFAULT (false), `other_user_id` integer NULL, `count` integer NULL);
-- Set sequence for "audit_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("audit_events", 17179869184);
-- Create index "auditevent_at" to table: "audit_events"
CREATE INDEX `auditevent_at` ON `audit_events` (`at`);
-- Create index "auditevent_user_id_at" to table: "audit_events"
CREATE INDEX `auditevent_user_id_at` ON `audit_events` (`user_id`, `at`);
-- Create index "auditevent_kind_at" to table: "audit_events"
CREATE INDEX `auditevent_kind_at` ON `audit_events` (`kind`, `at`);
