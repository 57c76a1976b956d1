DROP TABLE site_rules_version;
DROP TABLE site_users;
DROP TABLE protected_sites;
ALTER TABLE sessions DROP COLUMN second_factor_at;
