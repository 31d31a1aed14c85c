"""PaiConfig's derived settings."""

from __future__ import annotations

import pytest

from pai_jupyter.config import PaiConfig
from pai_jupyter.errors import ValidationError


def test_bucket_prefers_the_oss_bucket_then_the_default_and_refuses_none() -> None:
    config = PaiConfig()
    assert config.bucket == config.default_bucket == "pai-jupyter"
    config.oss_bucket = "team-models"
    assert config.bucket == "team-models"
    config.oss_bucket = config.default_bucket = ""
    with pytest.raises(ValidationError, match="no OSS bucket is configured"):
        _ = config.bucket
