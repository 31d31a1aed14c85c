"""Server-side verification of the two request signatures the SDKs send.

The fakes keep an access key -> secret table and recompute each request's
signature from what arrived on the wire, so a wrong secret, a tampered body
or a header left out of the signature is refused the way Alibaba Cloud
refuses it. Shared by the fake DLC, AIWorkspace, DSW, EAS and OSS servers.

- ACS3-HMAC-SHA256 (every OpenAPI product: DLC, EAS, AIWorkspace, DSW).
  Source: "Request syntax and signature method V3"
  (https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature):
  CanonicalRequest = method \\n canonical URI \\n canonical query \\n canonical headers
  \\n signed headers \\n hex sha256 of the body; StringToSign = algorithm \\n hex sha256
  of CanonicalRequest; Signature = hex HMAC-SHA256(secret, StringToSign). The SDK side is
  ``alibabacloud_tea_openapi.utils.Utils.get_authorization``. Refusals: 400
  ``SignatureDoesNotMatch`` ("Specified signature is not matched with our calculation."),
  404 ``InvalidAccessKeyId.NotFound`` ("Specified access key is not found."), the POP
  common error codes.
- OSS4-HMAC-SHA256 (OSS V4). Source: "Signature Version 4 (recommended)"
  (https://www.alibabacloud.com/help/en/oss/developer-reference/recommend-to-use-signature-version-4):
  signing key = HMAC chain over "aliyun_v4"+secret, date, region, "oss", "aliyun_v4_request";
  canonical headers are every ``x-oss-*`` header plus content-type / content-md5 plus the
  AdditionalHeaders; the URI is ``/bucket/key`` with ``/`` kept. The SDK side is
  ``oss2.auth.ProviderAuthV4``. Refusals: 403 ``SignatureDoesNotMatch``, 403
  ``InvalidAccessKeyId`` (OSS error codes page).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

from .common import Request

ACS3 = "ACS3-HMAC-SHA256"
# The one account the fakes know: access key id -> secret (tests/aliyun/conftest.py exports it).
ACCESS_KEY = "test-ak"
ACCESS_SECRET = "test-secret-never-logged"
KEYS = {ACCESS_KEY: ACCESS_SECRET}
OSS4 = "OSS4-HMAC-SHA256"


@dataclass
class SignatureProblem:
    """Why a request's signature was refused: the status and Code the real service answers."""

    status: int
    code: str
    message: str


def _acs_quote(text: str) -> str:
    # tea-openapi utils.get_canonical_query_string: quote(value, safe='~')
    return quote(text, safe="~", encoding="utf-8")


def verify_acs3(req: Request, secrets_by_key: dict[str, str]) -> SignatureProblem | None:
    """Recompute the ACS3-HMAC-SHA256 signature of ``req``; None when it matches."""
    auth = req.headers.get("authorization", "")
    m = re.fullmatch(r"(ACS3-HMAC-SHA256) Credential=([^,]+),SignedHeaders=([^,]*),Signature=([0-9a-f]+)", auth)
    if not m:
        return SignatureProblem(400, "MissingAuthorization", "The Authorization header is missing or malformed.")
    _, key_id, signed, signature = m.groups()
    secret = secrets_by_key.get(key_id)
    if secret is None:
        return SignatureProblem(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    payload = hashlib.sha256(req.body).hexdigest()
    if req.headers.get("x-acs-content-sha256") != payload:
        return SignatureProblem(400, "ContentSHA256NotMatched", "x-acs-content-sha256 does not match the body.")
    names = signed.split(";") if signed else []
    for required in ("host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "x-acs-action"):
        if required not in names and required in req.headers:
            return SignatureProblem(400, "IncompleteSignature", f"the header {required} must be signed.")
    canonical_headers = "".join(f"{n}:{req.headers.get(n, '').strip()}\n" for n in names)
    query = "&".join(f"{k}={_acs_quote(v)}" for k, v in sorted(req.query.items()))
    canonical = f"{req.method}\n{req.raw_path or '/'}\n{query}\n{canonical_headers}\n{signed}\n{payload}"
    to_sign = f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return SignatureProblem(
            400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        )
    return None


def _v4_encode(text: str, keep_slash: bool) -> str:
    # OSS V4: unreserved characters A-Z a-z 0-9 - _ . ~ stay; '/' stays in the URI only.
    return quote(text, safe="-_.~/" if keep_slash else "-_.~", encoding="utf-8")


def verify_oss4(req: Request, bucket: str, key: str, secrets_by_key: dict[str, str]) -> SignatureProblem | None:
    """Recompute the OSS4-HMAC-SHA256 signature of ``req``; None when it matches."""
    auth = req.headers.get("authorization", "")
    m = re.fullmatch(
        r"OSS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/oss/aliyun_v4_request,"
        r" ?Signature=([0-9a-f]+)(?:, ?AdditionalHeaders=([^,]*))?",
        auth,
    )
    if not m:
        return SignatureProblem(403, "AccessDenied", "The request must be signed with OSS4-HMAC-SHA256.")
    key_id, date, region, signature, additional = m.groups()
    secret = secrets_by_key.get(key_id)
    if secret is None:
        return SignatureProblem(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist.")
    stamp = req.headers.get("x-oss-date", "")
    if stamp[:8] != date:
        return SignatureProblem(403, "SignatureDoesNotMatch", "x-oss-date does not match the credential scope.")
    extra = set(additional.split(";")) if additional else set()
    names = sorted(
        n for n in req.headers if n.startswith("x-oss-") or n in ("content-type", "content-md5") or n in extra
    )
    canonical_headers = "".join(f"{n}:{req.headers[n].strip()}\n" for n in names)
    query = "&".join(
        _v4_encode(k, False) + (f"={_v4_encode(v, False)}" if v else "")
        for k, v in sorted(req.query.items(), key=lambda kv: _v4_encode(kv[0], False))
    )
    uri = _v4_encode(f"/{bucket}/{key}" if bucket else "/", True)
    payload = req.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    canonical = f"{req.method}\n{uri}\n{query}\n{canonical_headers}\n{';'.join(sorted(extra))}\n{payload}"
    scope = f"{date}/{region}/oss/aliyun_v4_request"
    to_sign = f"{OSS4}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signing = ("aliyun_v4" + secret).encode()
    for part in (date, region, "oss", "aliyun_v4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return SignatureProblem(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None
