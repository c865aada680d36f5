"""Operations: health, readiness, ping, metrics."""
