"""Fixtures shared with the operator area's tests."""

from ..admin.conftest import operator  # noqa: F401  (an operator account)
