-- The schema registry: every published subgraph version and every supergraph
-- composed from them. Append-only; `current_supergraph` says which one routers serve.

CREATE TABLE subgraph_versions (
    id           uuid PRIMARY KEY,
    subgraph     text NOT NULL,
    routing_url  text NOT NULL,
    sdl          text NOT NULL,
    published_by text NOT NULL,
    message      text NOT NULL DEFAULT '',
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX subgraph_versions_by_name ON subgraph_versions (subgraph, published_at DESC);

CREATE TABLE supergraphs (
    id           uuid PRIMARY KEY,
    sdl          text NOT NULL,
    -- sha256 of the SDL: the ETag routers' sync agents send back.
    sdl_sha256   text NOT NULL,
    -- subgraph name → subgraph_versions.id it was composed from.
    members      jsonb NOT NULL,
    -- 'publish' or 'rollback'.
    reason       text NOT NULL,
    -- The subgraph version that caused it (publish), or the supergraph it restores (rollback).
    subject      uuid,
    created_by   text NOT NULL,
    message      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row: the supergraph routers serve. Publishes lock it, so they apply one at a time.
CREATE TABLE current_supergraph (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    supergraph_id uuid REFERENCES supergraphs (id)
);

INSERT INTO current_supergraph (singleton, supergraph_id) VALUES (true, NULL);
