"""Adapters at the edge: outside protocols and formats (webhook HTTP, …)."""
