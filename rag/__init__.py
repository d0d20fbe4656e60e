"""Retrieval-augmented answering: prompts, generative backends and answerers."""
