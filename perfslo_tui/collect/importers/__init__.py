"""Importers: other tools' benchmark results as perfslo runs (``perfslo import``).

One module per format (:mod:`~perfslo_tui.collect.importers.pytest_benchmark`,
:mod:`~perfslo_tui.collect.importers.pyperf`, :mod:`~perfslo_tui.collect.importers.hyperfine`,
:mod:`~perfslo_tui.collect.importers.google_benchmark`, :mod:`~perfslo_tui.collect.importers.asv`,
:mod:`~perfslo_tui.collect.importers.luascript`), the name -> format table in
:mod:`~perfslo_tui.collect.importers.registry`, and the writing in
:mod:`~perfslo_tui.collect.importers.apply`.
"""

from __future__ import annotations

from perfslo_tui.collect.importers.apply import ImportOutcome, import_file
from perfslo_tui.collect.importers.base import ImportedBaseline, ImportedRun
from perfslo_tui.collect.importers.registry import FORMATS, Format, guess_format

__all__ = [
    "FORMATS",
    "Format",
    "ImportOutcome",
    "ImportedBaseline",
    "ImportedRun",
    "guess_format",
    "import_file",
]
