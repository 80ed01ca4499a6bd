-- 0008: the F3548-21 DSS's entities (operational intent and constraint references, subscriptions, USS availability,
-- reports), each kept as its JSON document. The DSS serves them from memory (services/dss_picture.py); the store
-- keeps them durable and shared between workers (the change feed names them).
CREATE TABLE dss_entities (
    kind       text COLLATE "C" NOT NULL CHECK (kind IN ('oir', 'constraint', 'subscription', 'availability', 'report')),
    id         text COLLATE "C" NOT NULL,
    manager    text COLLATE "C" NOT NULL,         -- the USS (the token's sub) that owns it
    doc        text NOT NULL,                     -- the entity as JSON
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX dss_entities_manager ON dss_entities (manager, kind);
