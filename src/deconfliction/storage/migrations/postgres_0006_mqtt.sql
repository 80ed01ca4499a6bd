-- 0006: each party's MQTT signing secret (live tracks through an anonymous broker are authenticated by its HMAC).
-- Stored as issued: the server needs it to verify each payload. Protect the database like the secrets in it.
CREATE TABLE mqtt_secrets (
    party      text COLLATE "C" PRIMARY KEY REFERENCES parties (id),
    secret     text NOT NULL,
    created_at timestamptz NOT NULL
);
