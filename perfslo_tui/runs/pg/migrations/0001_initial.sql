-- perfslo shared history, schema version 1.
-- Everything lives in the schema "perfslo": names are always qualified (no
-- search_path surprises) and a DBA sees at once what is ours.
CREATE SCHEMA IF NOT EXISTS perfslo;

CREATE TABLE perfslo.migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL
);

-- One row per run. The key is the digest of the run's content (sha256 of
-- its canonical JSON): pushing the same run twice inserts nothing.
CREATE TABLE perfslo.runs (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest    bytea NOT NULL UNIQUE CHECK (length(digest) = 32),
    run_id    text NOT NULL UNIQUE,
    ts_ms     bigint NOT NULL,
    commit    text NOT NULL,
    branch    text NOT NULL,
    dirty     boolean NOT NULL,
    source    text NOT NULL,
    -- The machine key (perfslo_tui/runs/machine.py) and the host facts it came from.
    machine   text NOT NULL,
    host      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The run file's bytes as pushed; NULL once pruned to its summaries.
    document  bytea,
    pushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_time ON perfslo.runs (ts_ms, run_id);
CREATE INDEX runs_machine_time ON perfslo.runs (machine, ts_ms, run_id);
CREATE INDEX runs_commit_time ON perfslo.runs (commit, ts_ms);

-- One row per run x series: the summaries computed on write (the gate and
-- the monitor read these) and the samples (NULL once pruned).
CREATE TABLE perfslo.slo_stats (
    run     bigint NOT NULL REFERENCES perfslo.runs (id) ON DELETE CASCADE,
    slo     text NOT NULL,
    count   bigint NOT NULL,
    median  double precision NOT NULL,
    mean    double precision NOT NULL,
    min     double precision NOT NULL,
    max     double precision NOT NULL,
    p95     double precision NOT NULL,
    stdev   double precision NOT NULL,
    samples double precision[],
    PRIMARY KEY (run, slo)
);

-- Every baseline ever established; the newest of a scope is the current one.
-- scope: a machine key, or '' for a baseline of no known machine.
CREATE TABLE perfslo.baselines (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope       text NOT NULL,
    digest      bytea NOT NULL CHECK (length(digest) = 32),
    commit      text NOT NULL,
    source_run  text,
    document    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scope, digest)
);
CREATE INDEX baselines_scope ON perfslo.baselines (scope, id);
