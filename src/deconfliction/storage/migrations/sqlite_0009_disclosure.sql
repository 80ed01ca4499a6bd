-- 0009: need to know against a prober. How far each side's conflict location may lie from where the conflict is
-- (the other side was compared as its covering); the conflicts a declaration has had, by when they opened (probing).
ALTER TABLE conflicts ADD COLUMN a_uncertainty_m REAL NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN b_uncertainty_m REAL NOT NULL DEFAULT 0;
CREATE INDEX conflicts_b_decl_opened ON conflicts (b_decl, opened_at);
