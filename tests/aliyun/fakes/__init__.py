"""Local HTTP servers that speak the documented DLC, EAS and OSS APIs (see
/work/shared/reference/pai-api.md and docs/aliyun.md), for the contract suite."""
