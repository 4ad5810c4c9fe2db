"""Profiles: reading what profilers write, comparing two, and keeping them beside the runs.

A stage beside ``runs/``: it imports nothing of ``verdict/`` or later stages,
and ``report/``, ``tui/``, ``actions/`` and ``commands/`` read it.
"""
