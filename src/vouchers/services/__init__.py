"""Use cases: the only thing entry points call.

Each service function opens a unit of work, loads what it needs, calls the domain,
records history and events, and commits once. Dependencies are keyword-only and typed by
the protocols in ``ports``; adapters implement them.
"""
