-- 0004: live tracks. A track is keyed by (party, track_id): each party names its own tracks. Every report is kept
-- (track_reports, keyed by its time in microseconds: a second report with the same time is a duplicate); the track
-- row holds the newest two reports, which is all the live picture needs to be rebuilt at start-up.
CREATE TABLE tracks (
    party      TEXT NOT NULL REFERENCES parties (id),
    track_id   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'lost', 'removed')),
    source     TEXT NOT NULL,
    latest     TEXT NOT NULL,             -- the newest report: [t_us, lon, lat, alt_m, speed_mps, course_deg,
                                          -- separation_m, stale_us] (JSON)
    previous   TEXT,                      -- the one before it, to derive a motion the newest does not state
    reports    INTEGER NOT NULL,
    first_us   INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (party, track_id)
) WITHOUT ROWID;
CREATE INDEX tracks_status ON tracks (status) WHERE status != 'removed';
CREATE TABLE track_reports (
    party        TEXT NOT NULL,
    track_id     TEXT NOT NULL,
    t_us         INTEGER NOT NULL,
    lon          REAL NOT NULL,
    lat          REAL NOT NULL,
    alt_m        REAL,
    speed_mps    REAL,
    course_deg   REAL,
    separation_m REAL,
    stale_us     INTEGER,
    received_us  INTEGER NOT NULL,
    PRIMARY KEY (party, track_id, t_us)
) WITHOUT ROWID
