-- 0007: the change feed that keeps several worker processes' pictures whole, and idempotency keys.
CREATE TABLE changes (
    seq  bigint PRIMARY KEY,              -- one more than the largest, given under the write lock: commit order
    kind text NOT NULL,
    ref  text NOT NULL,
    at   timestamptz NOT NULL
);
CREATE TABLE idempotency_keys (
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL,
    status      integer,
    body        bytea,
    headers     text,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
