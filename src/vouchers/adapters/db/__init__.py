"""The SQL database: schema, engine set-up, migrations, repositories and the unit of work."""
