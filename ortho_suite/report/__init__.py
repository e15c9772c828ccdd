"""The reporting stages: ``summarize`` (the pretraining summary, provenance and overlaid spectra of
a profile; ``overlays``) and ``tables`` (the paper tables and the leaderboard: ``table_specs``
reads the table files, ``matching`` matches their cells to runs, ``verdicts`` judges them,
``render`` and ``leaderboard`` write them)."""
