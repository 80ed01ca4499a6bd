-- 0001: parties, tokens, links, declarations (with history), conflicts, per-party events.
-- Party and track ids sort and compare byte by byte (COLLATE "C"), as SQLite and Python order them.
-- Extensions are the database's, kept in schema public: one already there is used as it is.
CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public;
-- Ranges of float8: a declaration's time window in epoch seconds (the unit its queries speak) and altitude band.
CREATE TYPE deconf_float8range AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE parties (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    status     text NOT NULL CHECK (status IN ('active', 'suspended', 'withdrawn')),
    public_key text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE tokens (
    token_hash text PRIMARY KEY,          -- SHA-256 hex of the token; the token itself is never stored
    party      text COLLATE "C" NOT NULL REFERENCES parties (id),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX tokens_party ON tokens (party);
CREATE TABLE links (
    a          text COLLATE "C" NOT NULL REFERENCES parties (id),
    b          text COLLATE "C" NOT NULL REFERENCES parties (id),
    relay      text NOT NULL CHECK (relay IN ('auto', 'review')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE TABLE declarations (
    key          bigint PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    party        text COLLATE "C" NOT NULL REFERENCES parties (id),
    version      integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'cancelled')),
    kind         text NOT NULL,
    feature      text NOT NULL,           -- the Feature as stored (JSON text, shown as it is)
    audience_all boolean NOT NULL,
    box1         geometry(Polygon, 4326) NOT NULL,  -- the lon/lat box the shape and its separation fill
    box2         geometry(Polygon, 4326),           -- the second box when that straddles 180°
    during_s     deconf_float8range NOT NULL,  -- [start, end) in seconds since the epoch; no upper bound: open-ended
    altitude_m   deconf_float8range NOT NULL,  -- [lower, upper] in metres; no upper bound: unlimited
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX declarations_party ON declarations (party, key);
CREATE INDEX declarations_status ON declarations (status, key);
CREATE TABLE declaration_audience (
    party text COLLATE "C" NOT NULL,
    key   bigint NOT NULL REFERENCES declarations (key),
    PRIMARY KEY (party, key)
);
CREATE TABLE declaration_versions (
    key     bigint NOT NULL REFERENCES declarations (key),
    version integer NOT NULL,
    status  text NOT NULL,
    feature text NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE TABLE conflicts (
    seq             bigint PRIMARY KEY,   -- one more than the largest, given under the write lock (as SQLite's rowid)
    id              text NOT NULL UNIQUE,
    kind            text NOT NULL,
    a_party text COLLATE "C" NOT NULL, a_decl text NOT NULL, a_version integer NOT NULL,
    a_lon float8 NOT NULL, a_lat float8 NOT NULL, a_ack_at timestamptz,
    b_party text COLLATE "C" NOT NULL, b_decl text NOT NULL, b_version integer NOT NULL,
    b_lon float8 NOT NULL, b_lat float8 NOT NULL, b_ack_at timestamptz,
    distance_m      float8 NOT NULL,
    required_m      float8 NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz,
    opened_at       timestamptz NOT NULL,
    resolved_at     timestamptz,
    resolved_reason text
);
CREATE INDEX conflicts_a ON conflicts (a_party, seq);
CREATE INDEX conflicts_b ON conflicts (b_party, seq);
CREATE INDEX conflicts_a_decl ON conflicts (a_decl) WHERE resolved_at IS NULL;
CREATE INDEX conflicts_b_decl ON conflicts (b_decl) WHERE resolved_at IS NULL;
CREATE TABLE events (
    id    bigint PRIMARY KEY,             -- the SSE event id; one more than the largest, never reused
    party text COLLATE "C" NOT NULL,
    type  text NOT NULL,
    data  text NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX events_party ON events (party, id);
