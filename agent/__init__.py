"""The brain: a context in, a decision out. Imports no domain model (DESIGN.md §3)."""
