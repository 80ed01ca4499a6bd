"""The record nobody can rewrite: a hash chain of signed entries, exportable and verifiable offline."""
