DROP TABLE access_tokens;
ALTER TABLE events DROP COLUMN actor;
ALTER TABLE users DROP COLUMN disabled_at;
