-- Modify "open_ids" table
ALTER TABLE `open_ids` ADD INDEX `openid_openid` (`openid`);
-- Modify "users" table
ALTER TABLE `users` ADD COLUMN `phone_suffix` varchar(8) NULL, ADD INDEX `user_disabled` (`disabled`), ADD INDEX `user_phone_suffix` (`phone_suffix`);
-- Backfill "phone_suffix" (by hand: kept by a hook on every later write)
UPDATE `users` SET `phone_suffix` = RIGHT(`phone_number`, 4) WHERE `phone_number` IS NOT NULL;
