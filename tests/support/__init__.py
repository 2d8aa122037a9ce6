"""Helpers that start the real parts the tests use: Redis, PostgreSQL, HTTP servers."""
