-- 0003: the record (ledger), messages, notifications to acknowledge, who viewed what, webhooks.
ALTER TABLE conflicts ADD COLUMN a_ack_sig text;
ALTER TABLE conflicts ADD COLUMN b_ack_sig text;
CREATE TABLE ledger (
    seq   bigint PRIMARY KEY,
    hash  text NOT NULL,
    entry text NOT NULL                   -- the entry's canonical JSON (RFC 8785), byte for byte as exported
);
CREATE TABLE declaration_digests (
    key     bigint NOT NULL REFERENCES declarations (key),
    version integer NOT NULL,
    salt    text NOT NULL,
    digest  text NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE TABLE messages (
    seq        bigint PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    sender     text COLLATE "C" NOT NULL REFERENCES parties (id),
    recipient  text COLLATE "C" NOT NULL REFERENCES parties (id),
    holder     text COLLATE "C" NOT NULL,
    waiting_on text COLLATE "C",          -- the party whose review, or return to active, the message awaits
    status     text NOT NULL,
    ack_by     timestamptz,
    due        boolean NOT NULL,          -- while a deadline may still be missed (not acknowledged/refused/overdue)
    signature  text UNIQUE,               -- a signed message is accepted once: no replay
    doc        text NOT NULL              -- the message (domain record, JSON)
);
CREATE INDEX messages_sender ON messages (sender, seq);
CREATE INDEX messages_recipient ON messages (recipient, seq);
CREATE INDEX messages_waiting ON messages (waiting_on, seq) WHERE waiting_on IS NOT NULL;
CREATE INDEX messages_due ON messages (ack_by, seq) WHERE due;
CREATE TABLE message_parties (            -- who may see a message: its sender and each party it has reached
    party   text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL REFERENCES messages (seq),
    PRIMARY KEY (party, seq)
);
CREATE TABLE notifications (
    seq           bigint PRIMARY KEY,
    id            text NOT NULL UNIQUE,
    party         text COLLATE "C" NOT NULL REFERENCES parties (id),
    owner         text COLLATE "C" NOT NULL,
    declaration   text NOT NULL,
    version       integer NOT NULL,
    digest        text NOT NULL,
    salt          text NOT NULL,
    created_at    timestamptz NOT NULL,
    ack_by        timestamptz,
    acked_at      timestamptz,
    ack_signature text,
    overdue_at    timestamptz,
    superseded_at timestamptz
);
CREATE INDEX notifications_party ON notifications (party, seq);
CREATE INDEX notifications_declaration ON notifications (declaration, seq);
CREATE INDEX notifications_due ON notifications (ack_by, seq)
    WHERE acked_at IS NULL AND overdue_at IS NULL AND superseded_at IS NULL AND ack_by IS NOT NULL;
CREATE TABLE declaration_views (
    seq         bigint PRIMARY KEY,
    declaration text NOT NULL,
    party       text COLLATE "C" NOT NULL,
    via         text NOT NULL,            -- read | list | event | webhook | export
    at          timestamptz NOT NULL
);
CREATE INDEX declaration_views_declaration ON declaration_views (declaration, seq);
CREATE TABLE webhooks (
    id                text PRIMARY KEY,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- order of creation, for equal created_at
    party             text COLLATE "C" NOT NULL REFERENCES parties (id),
    url               text NOT NULL,
    secret            text NOT NULL,      -- the HMAC key; the receiver holds it too
    created_at        timestamptz NOT NULL,
    cursor            bigint NOT NULL,    -- the last event id delivered (the outbox position)
    failures          integer NOT NULL DEFAULT 0,
    next_attempt_s    float8 NOT NULL DEFAULT 0,
    last_error        text,
    last_delivered_at timestamptz,
    removed_at        timestamptz
);
CREATE INDEX webhooks_party ON webhooks (party);
