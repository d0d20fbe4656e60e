"""clausewise: answer questions about privacy policies with the exact clauses relied on."""

__version__ = "0.1.0"
