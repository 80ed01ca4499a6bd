"""The map page's built files (static/, made by `make install` from web/; not committed)."""
