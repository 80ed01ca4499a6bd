-- 0002: an R*Tree over declarations' boxes (id = key * 2 + box number) for bbox lists, and an index of the
-- declarations shared with everyone, so that listing what a party may see reads indexes, not the whole table.
CREATE VIRTUAL TABLE declaration_boxes USING rtree (id, minlon, maxlon, minlat, maxlat);
INSERT INTO declaration_boxes SELECT key * 2, b1_minlon, b1_maxlon, b1_minlat, b1_maxlat FROM declarations;
INSERT INTO declaration_boxes SELECT key * 2 + 1, b2_minlon, b2_maxlon, b2_minlat, b2_maxlat FROM declarations
    WHERE b2_minlon IS NOT NULL;
CREATE INDEX declarations_shared_with_all ON declarations (key) WHERE audience_all = 1
