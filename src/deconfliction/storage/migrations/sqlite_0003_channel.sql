-- 0003: the record (ledger), messages, notifications to acknowledge, who viewed what, webhooks.
ALTER TABLE conflicts ADD COLUMN a_ack_sig TEXT;
ALTER TABLE conflicts ADD COLUMN b_ack_sig TEXT;
CREATE TABLE ledger (
    seq   INTEGER PRIMARY KEY,
    hash  TEXT NOT NULL,
    entry TEXT NOT NULL                   -- the entry's canonical JSON (RFC 8785), as exported
);
CREATE TABLE declaration_digests (
    key     INTEGER NOT NULL REFERENCES declarations (key),
    version INTEGER NOT NULL,
    salt    TEXT NOT NULL,
    digest  TEXT NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    sender     TEXT NOT NULL REFERENCES parties (id),
    recipient  TEXT NOT NULL REFERENCES parties (id),
    holder     TEXT NOT NULL,
    waiting_on TEXT,                      -- the party whose review, or return to active, the message awaits
    status     TEXT NOT NULL,
    ack_by     TEXT,
    due        INTEGER NOT NULL,          -- 1 while a deadline may still be missed (not acknowledged/refused/overdue)
    signature  TEXT UNIQUE,               -- a signed message is accepted once: no replay
    doc        TEXT NOT NULL              -- the message (domain record, JSON)
);
CREATE INDEX messages_sender ON messages (sender, seq);
CREATE INDEX messages_recipient ON messages (recipient, seq);
CREATE INDEX messages_waiting ON messages (waiting_on, seq) WHERE waiting_on IS NOT NULL;
CREATE INDEX messages_due ON messages (ack_by) WHERE due = 1;
CREATE TABLE message_parties (            -- who may see a message: its sender and each party it has reached
    party   TEXT NOT NULL,
    seq     INTEGER NOT NULL REFERENCES messages (seq),
    PRIMARY KEY (party, seq)
);
CREATE TABLE notifications (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    party         TEXT NOT NULL REFERENCES parties (id),
    owner         TEXT NOT NULL,
    declaration   TEXT NOT NULL,
    version       INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    salt          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    ack_by        TEXT,
    acked_at      TEXT,
    ack_signature TEXT,
    overdue_at    TEXT,
    superseded_at TEXT
);
CREATE INDEX notifications_party ON notifications (party, seq);
CREATE INDEX notifications_declaration ON notifications (declaration, seq);
CREATE INDEX notifications_due ON notifications (ack_by)
    WHERE acked_at IS NULL AND overdue_at IS NULL AND superseded_at IS NULL AND ack_by IS NOT NULL;
CREATE TABLE declaration_views (
    seq         INTEGER PRIMARY KEY,
    declaration TEXT NOT NULL,
    party       TEXT NOT NULL,
    via         TEXT NOT NULL,            -- read | list | event | webhook | export
    at          TEXT NOT NULL
);
CREATE INDEX declaration_views_declaration ON declaration_views (declaration, seq);
CREATE TABLE webhooks (
    id                TEXT PRIMARY KEY,
    party             TEXT NOT NULL REFERENCES parties (id),
    url               TEXT NOT NULL,
    secret            TEXT NOT NULL,      -- the HMAC key; the receiver holds it too
    created_at        TEXT NOT NULL,
    cursor            INTEGER NOT NULL,   -- the last event id delivered (the outbox position)
    failures          INTEGER NOT NULL DEFAULT 0,
    next_attempt_s    REAL NOT NULL DEFAULT 0,
    last_error        TEXT,
    last_delivered_at TEXT,
    removed_at        TEXT
);
CREATE INDEX webhooks_party ON webhooks (party)
