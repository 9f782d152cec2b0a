"""One exception class per business failure, each with a stable slug and an HTTP status.

The slugs are part of the API contract: clients match on them, so they never change
once published. The web layer turns any `CrmError` into a JSON error or a page message.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base class: a business rule refused the request; nothing was changed."""

    slug = "crm-error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CrmError):
    slug = "invalid-input"
    http_status = 422


class InvalidPhone(InvalidInput):
    slug = "invalid-phone"


class NotFound(CrmError):
    slug = "not-found"
    http_status = 404


class Conflict(CrmError):
    slug = "conflict"
    http_status = 409


class PhoneTaken(Conflict):
    slug = "phone-taken"


class DuplicateOrderNumber(Conflict):
    slug = "duplicate-order-number"


class DuplicateLogin(Conflict):
    slug = "duplicate-login"


class ForbiddenTransition(CrmError):
    slug = "forbidden-transition"
    http_status = 409


class AccessDenied(CrmError):
    slug = "access-denied"
    http_status = 403


class PhoneUnreachable(Conflict):
    """Click-to-call: the operator has no phone, or it is not registered with the PBX now."""

    slug = "phone-unreachable"


class PbxUnavailable(CrmError):
    """The PBX cannot take the request now (the AMI connection is down); nothing was dialled."""

    slug = "pbx-unavailable"
    http_status = 503
