"""The rank statistics live in :mod:`perfslo_tui.runs.nonparametric` (the runs stage needs them too)."""

from perfslo_tui.runs.nonparametric import mann_whitney_p, theil_sen

__all__ = ["mann_whitney_p", "theil_sen"]
