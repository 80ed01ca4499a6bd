-- 0005: agreed deconfliction lines between two parties.
CREATE TABLE lines (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    proposer     TEXT NOT NULL REFERENCES parties (id),
    partner      TEXT NOT NULL REFERENCES parties (id),  -- the party it is proposed to ("with")
    left_party   TEXT NOT NULL,
    right_party  TEXT NOT NULL,
    geometry     TEXT NOT NULL,                          -- the LineString as stored (GeoJSON)
    tolerance_m  REAL NOT NULL,
    salt         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected', 'withdrawn')),
    proposal_sig TEXT,
    answer_sig   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    answered_at  TEXT,
    withdrawn_by TEXT,
    CHECK (proposer <> partner)
);
CREATE INDEX lines_proposer ON lines (proposer, seq);
CREATE INDEX lines_partner ON lines (partner, seq);
CREATE INDEX lines_accepted_proposer ON lines (proposer) WHERE status = 'accepted';
CREATE INDEX lines_accepted_partner ON lines (partner) WHERE status = 'accepted'
