"""SQLAlchemy 2 (async) storage: tables, repositories and Alembic migrations."""
