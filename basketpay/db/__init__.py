"""Storage: the PostgreSQL engine, the embedded server, table metadata and the unit of work."""
