"""Tests of accounts and auth."""
