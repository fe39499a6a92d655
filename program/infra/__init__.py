"""The ground everything stands on: settings, the database (engine, sessions, tables, migrations), free-text
encryption at rest, the audit trail and short codes. Imports nothing else of Kindred."""
