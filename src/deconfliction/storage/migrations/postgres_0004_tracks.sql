-- 0004: live tracks. A track is keyed by (party, track_id): each party names its own tracks. Every report is kept
-- (track_reports, keyed by its time in microseconds: a second report with the same time is a duplicate); the track
-- row holds the newest two reports, which is all the live picture needs to be rebuilt at start-up.
CREATE TABLE tracks (
    party      text COLLATE "C" NOT NULL REFERENCES parties (id),
    track_id   text COLLATE "C" NOT NULL,
    status     text NOT NULL CHECK (status IN ('active', 'lost', 'removed')),
    source     text NOT NULL,
    latest     text NOT NULL,             -- the newest report: [t_us, lon, lat, alt_m, speed_mps, course_deg,
                                          -- separation_m, stale_us] (JSON)
    previous   text,                      -- the one before it, to derive a motion the newest does not state
    reports    bigint NOT NULL,
    first_us   bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (party, track_id)
);
CREATE INDEX tracks_status ON tracks (status) WHERE status <> 'removed';
CREATE TABLE track_reports (
    party        text COLLATE "C" NOT NULL,
    track_id     text COLLATE "C" NOT NULL,
    t_us         bigint NOT NULL,
    lon          float8 NOT NULL,
    lat          float8 NOT NULL,
    alt_m        float8,
    speed_mps    float8,
    course_deg   float8,
    separation_m float8,
    stale_us     bigint,
    received_us  bigint NOT NULL,
    PRIMARY KEY (party, track_id, t_us)
);
