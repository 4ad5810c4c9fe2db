"""Stage 2, verdict: budgets, regressions and statistics over a :class:`RunHistory`.

Kept free of imports so that ``perfslo_tui.verdict.rules`` stays cheap to load.
"""
