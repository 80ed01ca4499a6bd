-- 0001: parties, tokens, links, declarations (with history), conflicts, per-party events.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE parties (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'withdrawn')),
    public_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,          -- SHA-256 hex of the token; the token itself is never stored
    party      TEXT NOT NULL REFERENCES parties (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX tokens_party ON tokens (party);
CREATE TABLE links (
    a          TEXT NOT NULL REFERENCES parties (id),
    b          TEXT NOT NULL REFERENCES parties (id),
    relay      TEXT NOT NULL CHECK (relay IN ('auto', 'review')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE TABLE declarations (
    key          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    party        TEXT NOT NULL REFERENCES parties (id),
    version      INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    kind         TEXT NOT NULL,
    feature      TEXT NOT NULL,           -- the Feature as stored (JSON)
    start_s      REAL NOT NULL,
    end_s        REAL,                    -- NULL: open-ended
    audience_all INTEGER NOT NULL,
    b1_minlon REAL NOT NULL, b1_minlat REAL NOT NULL, b1_maxlon REAL NOT NULL, b1_maxlat REAL NOT NULL,
    b2_minlon REAL, b2_minlat REAL, b2_maxlon REAL, b2_maxlat REAL,  -- second box when the shape straddles 180°
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX declarations_party ON declarations (party, key);
CREATE INDEX declarations_status ON declarations (status, key);
CREATE TABLE declaration_audience (
    party TEXT NOT NULL,
    key   INTEGER NOT NULL REFERENCES declarations (key),
    PRIMARY KEY (party, key)
);
CREATE TABLE declaration_versions (
    key     INTEGER NOT NULL REFERENCES declarations (key),
    version INTEGER NOT NULL,
    status  TEXT NOT NULL,
    feature TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE TABLE conflicts (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    a_party TEXT NOT NULL, a_decl TEXT NOT NULL, a_version INTEGER NOT NULL,
    a_lon REAL NOT NULL, a_lat REAL NOT NULL, a_ack_at TEXT,
    b_party TEXT NOT NULL, b_decl TEXT NOT NULL, b_version INTEGER NOT NULL,
    b_lon REAL NOT NULL, b_lat REAL NOT NULL, b_ack_at TEXT,
    distance_m      REAL NOT NULL,
    required_m      REAL NOT NULL,
    start_at        TEXT NOT NULL,
    end_at          TEXT,
    opened_at       TEXT NOT NULL,
    resolved_at     TEXT,
    resolved_reason TEXT
);
CREATE INDEX conflicts_a ON conflicts (a_party, seq);
CREATE INDEX conflicts_b ON conflicts (b_party, seq);
CREATE INDEX conflicts_a_decl ON conflicts (a_decl) WHERE resolved_at IS NULL;
CREATE INDEX conflicts_b_decl ON conflicts (b_decl) WHERE resolved_at IS NULL;
CREATE TABLE events (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,  -- the SSE event id; never reused
    party TEXT NOT NULL,
    type  TEXT NOT NULL,
    data  TEXT NOT NULL,
    at    TEXT NOT NULL
);
CREATE INDEX events_party ON events (party, id);
