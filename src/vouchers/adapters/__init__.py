"""Adapters: the implementations of what services need (database, keys, later mail and RADIUS)."""
