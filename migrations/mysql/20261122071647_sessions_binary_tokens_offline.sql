-- Modify "sessions" table (by hand: MODIFY COLUMN would keep the hex text's
-- bytes, not decode them): token_hash and family become the bytes their hex
-- spells, in new columns beside the old ones
ALTER TABLE `sessions` ADD COLUMN `token_hash_bin` binary(32) NULL AFTER `token_hash`, ADD COLUMN `family_bin` binary(16) NULL AFTER `family`;
-- Backfill (by hand) with UNHEX; a value that is not hex (wxid never wrote
-- one) gets a digest of itself, so the NOT NULL and unique constraints hold
UPDATE `sessions` SET `token_hash_bin` = COALESCE(UNHEX(`token_hash`), UNHEX(SHA2(`token_hash`, 256))), `family_bin` = COALESCE(UNHEX(`family`), UNHEX(MD5(`family`)));
-- Modify "sessions" table (by hand): drop the hex columns and give their
-- names, constraints and indexes to the binary ones; one index on
-- (user_id, family) replaces the two on user_id and on family
ALTER TABLE `sessions` DROP INDEX `token_hash`, DROP INDEX `session_family`, DROP INDEX `session_user_id`, DROP COLUMN `token_hash`, DROP COLUMN `family`, CHANGE COLUMN `token_hash_bin` `token_hash` binary(32) NOT NULL, CHANGE COLUMN `family_bin` `family` binary(16) NOT NULL, ADD UNIQUE INDEX `token_hash` (`token_hash`), ADD INDEX `session_user_id_family` (`user_id`, `family`);
