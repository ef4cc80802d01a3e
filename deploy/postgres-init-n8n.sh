#!/bin/sh
# Gives n8n a role and a database of its own on the stack's PostgreSQL, next to Breakeven's database.
# The postgres image runs this once, when it initialises an empty data volume (/docker-entrypoint-initdb.d);
# to add n8n's database to an existing volume, run it by hand inside the container.
# The password travels as a psql variable, quoted by psql itself (:'name'), never pasted into the SQL text.
# No `set -u`: the image may source this file into its own entrypoint instead of running it.
set -e

if [ -z "$N8N_DB_PASSWORD" ]; then
  echo "postgres-init-n8n: N8N_DB_PASSWORD is empty; set it in .env" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  --set=n8n_user="${N8N_DB_USER:-n8n}" \
  --set=n8n_db="${N8N_DB_NAME:-n8n}" \
  --set=n8n_password="$N8N_DB_PASSWORD" <<'SQL'
CREATE ROLE :"n8n_user" LOGIN PASSWORD :'n8n_password';
CREATE DATABASE :"n8n_db" OWNER :"n8n_user";
REVOKE ALL ON DATABASE :"n8n_db" FROM PUBLIC;
SQL
