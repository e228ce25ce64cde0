#!/bin/sh
# Run once by the postgres image on an empty volume: a role Grafana reads with, which can read
# every table and view whoop-etl creates (now or in a later migration) and write none.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE whoop TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE whoop IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
SQL
