from __future__ import annotations

import pytest

from tests.index.helpers import ALL_BACKENDS


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every index backend name."""
    return str(request.param)
