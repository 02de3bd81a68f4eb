"""venues layer; see docs/architecture.md."""
