"""In-memory spatio-temporal index of active declarations: candidates for the exact check."""

from deconfliction.index.spatiotemporal import Box, SpatioTemporalIndex

__all__ = ["Box", "SpatioTemporalIndex"]
