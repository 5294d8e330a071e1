"""The reviewer's view is part of the operator area: its fixtures (an operator account) apply here too."""

from ..admin.conftest import operator

__all__ = ["operator"]
