"""The shared-history tests: a package, so their conftest is not the module named ``conftest``.

Tests elsewhere import helpers with ``from conftest import ...`` (tests/conftest.py); a
second top-level ``conftest`` module collected before them would shadow it.
"""
