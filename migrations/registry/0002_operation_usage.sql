-- Operations routers executed, as Hive Router's usage reports give them
-- (telemetry.hive.usage_reporting pointed at POST /v1/usage). Checks fail on a
-- change that breaks one seen in the last days; `nova usage` shows which fields
-- traffic reads.

-- One row per distinct operation: Hive's normalized document (literals and
-- aliases removed) and the schema coordinates it uses.
CREATE TABLE seen_operations (
    hash       text PRIMARY KEY,
    name       text,
    body       text NOT NULL,
    fields     text[] NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);

-- Requests per operation, UTC day and client (the graphql-client-name and
-- -version headers; '' when a client sent none).
CREATE TABLE operation_requests (
    hash           text NOT NULL REFERENCES seen_operations (hash),
    day            date NOT NULL,
    client_name    text NOT NULL,
    client_version text NOT NULL,
    requests       bigint NOT NULL,
    errors         bigint NOT NULL,
    PRIMARY KEY (hash, day, client_name, client_version)
);

CREATE INDEX operation_requests_by_day ON operation_requests (day);
