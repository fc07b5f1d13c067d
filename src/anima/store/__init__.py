"""Persistence: the only package that imports SQLAlchemy.

``Store`` owns the async engine; repositories hang off it and take and return domain
objects. Every SQLite/PostgreSQL difference lives in this package.
"""

from anima.store.db import Store

__all__ = ["Store"]
