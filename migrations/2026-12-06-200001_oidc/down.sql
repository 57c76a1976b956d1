DROP TABLE oidc_signing_keys;
DROP TABLE oidc_access_tokens;
DROP TABLE oidc_refresh_tokens;
DROP TABLE oidc_consents;
DROP TABLE oidc_codes;
DROP TABLE oidc_grants;
DROP TABLE oidc_clients;
ALTER TABLE sessions DROP COLUMN amr;
