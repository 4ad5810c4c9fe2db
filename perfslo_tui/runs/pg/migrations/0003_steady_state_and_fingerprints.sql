-- perfslo shared history, schema version 3.
--
-- What the file store's run table gained with the steady-state work: each
-- run's measurement fingerprint (canonical JSON, '' when the run has none)
-- and, per series, the raw sample count and where warm-up ends
-- (perfslo_tui/runs/steady.py). The summaries (count ... stdev) are those of
-- the steady samples from now on.
--
-- Runs stored before version 3 had their summaries computed over all their
-- samples: they are recorded as what that means, steady from the first
-- sample ("flat", no change), so a table read back is the one they were
-- pushed with. A fingerprint cannot be computed in SQL: theirs stays ''
-- (comparable with every run, as a run file without one is).
ALTER TABLE perfslo.runs
    ADD COLUMN fingerprint    text NOT NULL DEFAULT '',
    ADD COLUMN samples_totals bigint[],
    ADD COLUMN steady_froms   bigint[],
    ADD COLUMN steady_classes text[],
    ADD COLUMN steady_changes double precision[];

ALTER TABLE perfslo.slo_stats
    ADD COLUMN samples_total bigint,
    ADD COLUMN steady_from   bigint,
    ADD COLUMN steady_class  text,
    ADD COLUMN steady_change double precision;

UPDATE perfslo.slo_stats SET
    samples_total = count, steady_from = 0, steady_class = 'flat', steady_change = 0;

UPDATE perfslo.runs SET
    samples_totals = counts,
    steady_froms = array_fill(0::bigint, ARRAY[cardinality(slos)]),
    steady_classes = array_fill('flat'::text, ARRAY[cardinality(slos)]),
    steady_changes = array_fill(0::double precision, ARRAY[cardinality(slos)])
WHERE slos IS NOT NULL;
