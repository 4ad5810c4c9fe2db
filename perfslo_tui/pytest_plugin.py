"""The pytest plugin under its old public name; it lives in :mod:`perfslo_tui.collect.pytest_plugin`.

A project that loads ``-p perfslo_tui.pytest_plugin`` (or lists it in
``pytest_plugins``) gets the real plugin through ``pytest_plugins``; no hook
is defined here, so nothing is registered twice next to the entry point.
"""

from perfslo_tui.collect.pytest_plugin import PerfFixture, PerfSession

pytest_plugins = ["perfslo_tui.collect.pytest_plugin"]

__all__ = ["PerfFixture", "PerfSession"]
