DROP TABLE login_attempts;
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    account_key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
CREATE INDEX login_throttle_last_failure_at ON login_throttle (last_failure_at);
DROP TABLE identifiers;
