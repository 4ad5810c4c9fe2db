-- perfslo shared history, schema version 2: one row per machine.
-- Listing the machines (the monitor's machine key, `--machine`) no longer
-- scans every run; writers add their machine when they push. Filled here
-- from the runs already stored.
CREATE TABLE perfslo.machines (
    key        text PRIMARY KEY,
    -- The host facts of the machine's latest run when it was added.
    host       jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen timestamptz NOT NULL DEFAULT now()
);

INSERT INTO perfslo.machines (key, host)
SELECT DISTINCT ON (machine) machine, host FROM perfslo.runs ORDER BY machine, id DESC;
