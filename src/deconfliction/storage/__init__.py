"""Storage backends behind one small interface (base.py). SQLite is the default; PostgreSQL/PostGIS comes next."""
