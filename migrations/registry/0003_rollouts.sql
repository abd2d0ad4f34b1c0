-- Progressive rollouts (`nova rollout`): a field moves to another subgraph for
-- a growing share of requests. The published subgraph version carries
-- `@override(from:, label:)`; routers turn the label on for `percent` of
-- requests (the sync agent copies the active rollouts beside the supergraph).
-- The gate counts the new subgraph's answers on those requests from the
-- routers' metrics and aborts the rollout when too many fail.
CREATE TABLE rollouts (
    id             bigserial PRIMARY KEY,
    -- `nova-rollout-<id>`, the @override label.
    label          text NOT NULL UNIQUE,
    subgraph       text NOT NULL,
    -- `Type.field` of each field the label moves.
    fields         text[] NOT NULL,
    -- Percent of requests per step, ascending, the last 100.
    steps          int[] NOT NULL,
    step           int NOT NULL DEFAULT 0,
    state          text NOT NULL CHECK (state IN ('active', 'promoted', 'aborted')),
    -- What `promote` publishes: the operator's schema, without the label.
    routing_url    text NOT NULL,
    final_sdl      text NOT NULL,
    max_error_rate double precision NOT NULL,
    min_requests   bigint NOT NULL,
    -- Answers seen at the current step (reset by each step).
    step_requests  bigint NOT NULL DEFAULT 0,
    step_errors    bigint NOT NULL DEFAULT 0,
    reason         text NOT NULL DEFAULT '',
    started_by     text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One rollout at a time.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts ((true)) WHERE state = 'active';

-- The counters last read from each router (a metrics address), so the gate
-- adds what is new since; a router that restarted starts again from zero.
CREATE TABLE rollout_scrapes (
    rollout_id bigint NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    source     text NOT NULL,
    requests   bigint NOT NULL,
    errors     bigint NOT NULL,
    PRIMARY KEY (rollout_id, source)
);
