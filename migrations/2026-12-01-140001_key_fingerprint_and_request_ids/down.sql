ALTER TABLE events DROP COLUMN request_id;
DROP TABLE key_fingerprints;
