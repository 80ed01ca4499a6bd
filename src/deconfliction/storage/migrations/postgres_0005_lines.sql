-- 0005: agreed deconfliction lines between two parties.
CREATE TABLE lines (
    seq          bigint PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    proposer     text COLLATE "C" NOT NULL REFERENCES parties (id),
    partner      text COLLATE "C" NOT NULL REFERENCES parties (id),  -- the party it is proposed to ("with")
    left_party   text COLLATE "C" NOT NULL,
    right_party  text COLLATE "C" NOT NULL,
    geometry     text NOT NULL,                          -- the LineString as stored (GeoJSON)
    tolerance_m  float8 NOT NULL,
    salt         text NOT NULL,
    status       text NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected', 'withdrawn')),
    proposal_sig text,
    answer_sig   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    withdrawn_by text,
    CHECK (proposer <> partner)
);
CREATE INDEX lines_proposer ON lines (proposer, seq);
CREATE INDEX lines_partner ON lines (partner, seq);
CREATE INDEX lines_accepted_proposer ON lines (proposer) WHERE status = 'accepted';
CREATE INDEX lines_accepted_partner ON lines (partner) WHERE status = 'accepted';
