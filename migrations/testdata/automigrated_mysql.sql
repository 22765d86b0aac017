-- The schema wxid's automatic migration (ent's Schema.Create) created on MariaDB
-- before versioned migrations existed (commit 1f1a69e): what a database of the
-- previous release looks like. Frozen: never regenerate it.
CREATE TABLE `users` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `phone_number` varchar(32) DEFAULT NULL,
  `pure_phone_number` varchar(32) DEFAULT NULL,
  `country_code` varchar(8) DEFAULT NULL,
  `phone_verified_at` timestamp NULL DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `last_login_at` timestamp NULL DEFAULT NULL,
  `disabled` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `user_phone_number` (`phone_number`),
  KEY `user_pure_phone_number` (`pure_phone_number`),
  KEY `user_created_at` (`created_at`),
  KEY `user_last_login_at` (`last_login_at`)
) ENGINE=InnoDB AUTO_INCREMENT=12884901888 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `open_ids` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `appid` varchar(64) NOT NULL,
  `openid` varchar(128) NOT NULL,
  `session_key` blob DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `user_id` bigint(20) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `openid_appid_openid` (`appid`,`openid`),
  KEY `openid_user_id` (`user_id`),
  CONSTRAINT `open_ids_users_open_ids` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `union_ids` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `unionid` varchar(128) NOT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `user_id` bigint(20) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `unionid` (`unionid`),
  UNIQUE KEY `user_id` (`user_id`),
  CONSTRAINT `union_ids_users_union_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION
) ENGINE=InnoDB AUTO_INCREMENT=8589934592 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE `sessions` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `token_hash` varchar(64) NOT NULL,
  `family` varchar(32) NOT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `expires_at` timestamp NULL DEFAULT NULL,
  `absolute_expires_at` timestamp NULL DEFAULT NULL,
  `last_refreshed_at` timestamp NULL DEFAULT NULL,
  `revoked_at` timestamp NULL DEFAULT NULL,
  `rotated_at` timestamp NULL DEFAULT NULL,
  `successor_token` blob DEFAULT NULL,
  `client_ip` varchar(64) DEFAULT NULL,
  `user_agent` varchar(512) DEFAULT NULL,
  `open_id_id` bigint(20) NOT NULL,
  `user_id` bigint(20) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `token_hash` (`token_hash`),
  KEY `session_expires_at` (`expires_at`),
  KEY `session_family` (`family`),
  KEY `session_user_id` (`user_id`),
  KEY `sessions_open_ids_sessions` (`open_id_id`),
  CONSTRAINT `sessions_open_ids_sessions` FOREIGN KEY (`open_id_id`) REFERENCES `open_ids` (`id`) ON DELETE NO ACTION,
  CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION
) ENGINE=InnoDB AUTO_INCREMENT=4294967296 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
