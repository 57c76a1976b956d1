DROP TABLE events;
DROP TABLE login_throttle;
DROP TABLE machines;
DROP TABLE reset_tokens;
DROP TABLE sessions;
DROP TABLE users;
