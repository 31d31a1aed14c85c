"""Alibaba Cloud backend: PAI-DLC training, PAI-EAS serving and OSS storage.

Everything here goes through the official SDKs (``alibabacloud-pai-dlc20201203``,
``alibabacloud-eas20210701``, ``oss2``) with credentials from
``alibabacloud-credentials``' default chain. ``pai_jupyter.backends.aliyun``
bundles the three faces as the ``aliyun`` backend.
"""
