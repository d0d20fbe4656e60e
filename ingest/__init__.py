"""Ingest: load policy files, clean them, split into clauses and chunks, embed, and store in Chroma."""
