-- 0009: need to know against a prober. How far each side's conflict location may lie from where the conflict is
-- (the other side was compared as its covering); which party ended a conflict by changing or cancelling its
-- declaration; each party's conflicts by when they opened (probing).
ALTER TABLE conflicts ADD COLUMN a_uncertainty_m REAL NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN b_uncertainty_m REAL NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
CREATE INDEX conflicts_a_opened ON conflicts (a_party, opened_at);
