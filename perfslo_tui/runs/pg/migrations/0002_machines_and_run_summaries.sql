-- perfslo shared history, schema version 2.
--
-- 1. One row per machine: listing the machines (the monitor's m key,
--    --machine) no longer scans every run; writers add theirs when they push.
-- 2. Each run's summaries on its own row, one array element per series
--    (series in byte order of their names): the gate and the monitor read the
--    trend window from perfslo.runs alone, one index range, instead of one
--    perfslo.slo_stats look-up per run; perfslo.slo_stats keeps the samples.
-- Both are filled here from what version 1 stored.
CREATE TABLE perfslo.machines (
    key        text PRIMARY KEY,
    -- The host facts of a run of that machine, when it was added.
    host       jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen timestamptz NOT NULL DEFAULT now()
);

INSERT INTO perfslo.machines (key, host)
SELECT DISTINCT ON (machine) machine, host FROM perfslo.runs ORDER BY machine, id DESC;

ALTER TABLE perfslo.runs
    ADD COLUMN slos    text[],
    ADD COLUMN counts  bigint[],
    ADD COLUMN medians double precision[],
    ADD COLUMN means   double precision[],
    ADD COLUMN mins    double precision[],
    ADD COLUMN maxs    double precision[],
    ADD COLUMN p95s    double precision[],
    ADD COLUMN stdevs  double precision[];

UPDATE perfslo.runs r SET
    slos = a.slos, counts = a.counts, medians = a.medians, means = a.means,
    mins = a.mins, maxs = a.maxs, p95s = a.p95s, stdevs = a.stdevs
FROM (
    SELECT run,
        array_agg(slo ORDER BY slo COLLATE "C") AS slos,
        array_agg(count ORDER BY slo COLLATE "C") AS counts,
        array_agg(median ORDER BY slo COLLATE "C") AS medians,
        array_agg(mean ORDER BY slo COLLATE "C") AS means,
        array_agg(min ORDER BY slo COLLATE "C") AS mins,
        array_agg(max ORDER BY slo COLLATE "C") AS maxs,
        array_agg(p95 ORDER BY slo COLLATE "C") AS p95s,
        array_agg(stdev ORDER BY slo COLLATE "C") AS stdevs
    FROM perfslo.slo_stats GROUP BY run
) AS a
WHERE a.run = r.id;
