"""Cross-cutting pieces: configuration, errors, security primitives, logging, Redis."""
