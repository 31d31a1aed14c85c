"""Storage: ``oss://`` URIs and the backends' storage faces."""

from .uri import OssUri

__all__ = ["OssUri"]
