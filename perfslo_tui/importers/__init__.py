"""Importers: other tools' benchmark results as perfslo runs (``perfslo import``).

One module per format (:mod:`~perfslo_tui.importers.pytest_benchmark`,
:mod:`~perfslo_tui.importers.pyperf`, :mod:`~perfslo_tui.importers.hyperfine`,
:mod:`~perfslo_tui.importers.google_benchmark`, :mod:`~perfslo_tui.importers.asv`,
:mod:`~perfslo_tui.importers.luascript`), the name -> format table in
:mod:`~perfslo_tui.importers.registry`, and the writing in
:mod:`~perfslo_tui.importers.apply`.
"""

from __future__ import annotations

from perfslo_tui.importers.apply import ImportOutcome, import_file
from perfslo_tui.importers.base import ImportedBaseline, ImportedRun
from perfslo_tui.importers.registry import FORMATS, Format, guess_format

__all__ = [
    "FORMATS",
    "Format",
    "ImportOutcome",
    "ImportedBaseline",
    "ImportedRun",
    "guess_format",
    "import_file",
]
