"""One env, two trees. The caller passes a live connection and, for the tenant tree, the schema.

Run through `turnout migrate` (or tenant provisioning), not the alembic CLI: the
tenant tree must be applied per tenant schema, with that schema's own version table.
"""

from alembic import context

from turnout.db.session import set_local_search_path

config = context.config
connection = config.attributes.get("connection")
tenant_schema = config.attributes.get("tenant_schema")

if connection is None:
    raise SystemExit("run migrations with `turnout migrate`; the alembic CLI is not wired here")

if tenant_schema:
    set_local_search_path(connection, tenant_schema)
    context.configure(
        connection=connection,
        version_table_schema=tenant_schema,
        include_schemas=False,
    )
else:
    context.configure(connection=connection, version_table_schema="public")

with context.begin_transaction():
    context.run_migrations()
