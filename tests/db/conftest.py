"""Fixtures for the schema lifecycle tests."""

from tests.db.pg import empty_pg

__all__ = ["empty_pg"]
