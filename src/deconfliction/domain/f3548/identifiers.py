"""F3548-21 identifiers: EntityID and SubscriptionID (UUIDv4), and UssBaseURL.

Choices:

* UUIDv4: the OpenAPI pattern is ``^[0-9a-fA-F]{8}\\-[0-9a-fA-F]{4}\\-4[0-9a-fA-F]{3}\\-[8-b][0-9a-fA-F]{3}\\-
  [0-9a-fA-F]{12}$``; its ``[8-b]`` is meant as the RFC 4122 variant (8, 9, a, b), which is what the reference DSS
  checks (version 4, variant RFC 4122). Only the canonical 36-character form is accepted (the reference's parser
  also takes braces, ``urn:uuid:`` and undashed forms, which the pattern forbids). The id is returned lowercased,
  as the reference stores it.
* UssBaseURL: absolute, https (http only when `allow_http`, for tests — the reference's AllowHTTPBaseUrls), with a
  host. A trailing '/' is accepted, as the reference DSS does (the standard says "may not have a trailing '/'";
  prober test_id_conversion_bug sends one and expects 200); the URL is kept as given. A query or fragment is
  refused: resource paths are appended to the base URL (the reference checks only the scheme).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from deconfliction.domain.errors import InvalidInput

_UUID4 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")


def _uuid4(value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or _UUID4.fullmatch(value) is None:
        shown = repr(value) if isinstance(value, str) else "not a string"
        raise InvalidInput(
            f"{field} must be a {what}: a version-4 UUID (RFC 4122) such as "
            f"03e5572a-f733-49af-bc14-8a18bd53ee39; got {shown}",
            field=field,
        )
    return value.lower()


def check_entity_id(value: object, field: str = "entityid") -> str:
    """An EntityID (UUIDv4), lowercased; InvalidInput naming `field` otherwise."""
    return _uuid4(value, field, "EntityID")


def check_subscription_id(value: object, field: str = "subscriptionid") -> str:
    """A SubscriptionID (UUIDv4), lowercased; InvalidInput naming `field` otherwise."""
    return _uuid4(value, field, "SubscriptionID")


def check_uss_base_url(value: object, field: str = "uss_base_url", *, allow_http: bool = False) -> str:
    """A UssBaseURL: absolute https (or http when allowed), a host, no query or fragment."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} is required: the base URL of the USS (e.g. https://uss.example)", field=field)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidInput(f"{field} {value!r} is not a valid URL: {exc}", field=field) from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        raise InvalidInput(f"{field} {value!r} must be an absolute {' or '.join(schemes)} URL", field=field)
    if not host:
        raise InvalidInput(f"{field} {value!r} has no host", field=field)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise InvalidInput(f"{field} {value!r} may not have a query or fragment: paths are appended to it",
                           field=field)  # fmt: skip
    if any(c.isspace() for c in value):
        raise InvalidInput(f"{field} {value!r} may not contain white space", field=field)
    return value
