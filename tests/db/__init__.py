"""Database schema lifecycle: create, upgrade, lock, model/migration agreement."""
