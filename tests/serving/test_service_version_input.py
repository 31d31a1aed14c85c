"""A version that is not a number reaches the notebook user as a one-line ValidationError."""

from __future__ import annotations

from typing import Any

import pytest

from pai_jupyter.api.services import Service
from pai_jupyter.errors import ValidationError


@pytest.mark.parametrize("version", ["v2", "latest", None])
def test_rollback_with_a_non_number_version(pai_home: Any, version: Any) -> None:
    svc = Service("demo", backend="local")
    with pytest.raises(ValidationError) as info:
        svc.rollback(version)
    assert repr(version) in info.value.message and info.value.hint
