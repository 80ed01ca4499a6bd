"""The pure domain: no I/O, no framework. Geometry, 4D volumes, declarations, the conflict rule, disclosure."""
