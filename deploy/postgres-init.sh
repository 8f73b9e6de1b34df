#!/bin/sh
# One role for the services and one database per service: no service reads another's data.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE hospeda LOGIN PASSWORD '${POSTGRES_PASSWORD}';
CREATE DATABASE hospeda_billing OWNER hospeda;
CREATE DATABASE hospeda_provisioning OWNER hospeda;
CREATE DATABASE hospeda_dns OWNER hospeda;
CREATE DATABASE hospeda_notify OWNER hospeda;
CREATE DATABASE hospeda_audit OWNER hospeda;
CREATE DATABASE hospeda_gateway OWNER hospeda;
SQL
