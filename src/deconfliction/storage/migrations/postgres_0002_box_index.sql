-- 0002: GiST indexes over declarations' boxes, time windows and status (btree_gist lets the status join them), one
-- over time and altitude for lists without a box, and an index of the declarations shared with everyone: listing
-- what a party may see reads indexes, not the whole table.
CREATE INDEX declarations_where_when ON declarations USING gist (box1, during_s, status);
CREATE INDEX declarations_where_when_2 ON declarations USING gist (box2, during_s, status) WHERE box2 IS NOT NULL;
CREATE INDEX declarations_when ON declarations USING gist (during_s, altitude_m, status);
CREATE INDEX declarations_shared_with_all ON declarations (key) WHERE audience_all;
