"""Stage 1, runs: run files on disk, loaded into one polars table (:class:`RunHistory`)."""
