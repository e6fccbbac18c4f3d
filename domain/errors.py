"""One exception per reason code.

Codes are stable: they appear in CLI output, in recorded rejections and in reports.
`LedgerError` is an *operating* error (a refused command, bad input); a broken invariant
is a `LedgerInvariantError` and is never caught as an ordinary refusal.
"""

from __future__ import annotations

from domain.masking import mask_id_numbers


class LedgerError(Exception):
    code = "LEDGER_ERROR"

    def __init__(
        self, message: str, *, field: str | None = None, rule: str | None = None, rule_version: str | None = None
    ):
        message = scrub(message)  # an answer never repeats an ID number, whatever a message quotes
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.rule_version = rule_version

    def to_dict(self) -> dict:
        out: dict = {"code": self.code, "message": scrub(self.message)}
        if self.field is not None:
            out["field"] = scrub(self.field)
        if self.rule is not None:
            out["rule"] = self.rule
        if self.rule_version is not None:
            out["rule_version"] = self.rule_version
        return out


def scrub(text: str) -> str:
    """Every ID-number-like substring of an error message masked (the one place answers'
    messages pass through; see domain.masking)."""
    return mask_id_numbers(text) if isinstance(text, str) else text


class LedgerInvariantError(Exception):
    """A programmer error: the ledger would become inconsistent. Never swallowed."""


class InvalidInputError(LedgerError):
    code = "INVALID_INPUT"


class InvalidIdNumberError(InvalidInputError):
    code = "INVALID_ID_NUMBER"


class CommandConflictError(LedgerError):
    """A command id already used for a command with other content."""

    code = "COMMAND_CONFLICT"


class FutureDatedError(LedgerError):
    """A command dated later than the ledger's clock allows."""

    code = "FUTURE_DATED"


class OutOfOrderError(LedgerError):
    """A command dated before what is already recorded on an account it decides on."""

    code = "OUT_OF_ORDER"


class BalanceLimitExceededError(LedgerError):
    """A credit that would take a balance past `domain.person.BALANCE_FEN_MAX`."""

    code = "BALANCE_LIMIT_EXCEEDED"


class RuleRejection(LedgerError):
    """A refusal decided by a rule set; binds record these as events."""


class UnknownPersonError(LedgerError):
    code = "UNKNOWN_PERSON"


class AlreadyEnrolledError(LedgerError):
    code = "ALREADY_ENROLLED"


class PersonNotActiveError(RuleRejection):
    code = "PERSON_NOT_ACTIVE"


class StatusConflictError(LedgerError):
    code = "STATUS_CONFLICT"


class NoPersonalAccountError(LedgerError):
    code = "NO_PERSONAL_ACCOUNT"


class NotBoundError(LedgerError):
    code = "NOT_BOUND"


class NotAuthorizedError(LedgerError):
    code = "NOT_AUTHORIZED"


class PresenterNotBoundError(LedgerError):
    code = "PRESENTER_NOT_BOUND"


class CategoryNotEligibleError(LedgerError):
    code = "CATEGORY_NOT_ELIGIBLE"


class UnknownSettlementError(LedgerError):
    code = "UNKNOWN_SETTLEMENT"


class AlreadyReversedError(LedgerError):
    code = "ALREADY_REVERSED"


class SettlementConflictError(LedgerError):
    code = "SETTLEMENT_CONFLICT"


class UnknownRuleVersionError(LedgerError):
    code = "UNKNOWN_RULE_VERSION"


class ConcurrencyError(LedgerError):
    code = "CONCURRENCY_CONFLICT"


class QuotaBelowUsedError(LedgerError):
    """A cross-province quota lowered below what was already drawn on it."""

    code = "QUOTA_BELOW_USED"


class InsufficientBalanceError(LedgerError):
    """A quota earmarked or raised beyond the authorizer's spendable balance."""

    code = "INSUFFICIENT_BALANCE"


class UnknownProvinceError(LedgerError):
    """A federation has no ledger for the province of the person a command is about."""

    code = "UNKNOWN_PROVINCE"


class WrongLedgerError(LedgerError):
    """A command about a person of another province, sent to this province's ledger."""

    code = "WRONG_LEDGER"

    def __init__(self, message: str, *, province: str, field: str | None = None):
        super().__init__(message, field=field)
        self.province = province

    def to_dict(self) -> dict:
        return {**super().to_dict(), "province": self.province}


class StorageError(LedgerError):
    code = "STORAGE_ERROR"


# Rule rejections of a bind, in the order the bind decision checks them (precedence).
BIND_REJECTION_CODES: tuple[str, ...] = (
    "PERSON_NOT_ACTIVE",
    "ALREADY_BOUND",
    "RELATIONSHIP_NOT_ALLOWED",
    "FACE_VERIFICATION_REQUIRED",
    "REBIND_COOLDOWN",
    "MEMBER_BOUND_ELSEWHERE",
    "MEMBER_LIMIT",
    "RELATIONSHIP_LIMIT",
    "MONTHLY_BIND_LIMIT",
    "MEMBER_BINDERS_LIMIT",
    "MEMBER_MONTHLY_BINDERS_LIMIT",
)

# Rule rejections of an authorization, in precedence order.
AUTHORIZE_REJECTION_CODES: tuple[str, ...] = (
    "PERSON_NOT_ACTIVE",
    "AUTHORIZER_NOT_ELIGIBLE",
    "ALREADY_AUTHORIZED",
    "RELATIONSHIP_NOT_ALLOWED",
    "CROSS_PROVINCE_NOT_ALLOWED",
)


def rejection(code: str, message: str, *, rule: str | None = None, rule_version: str | None = None) -> RuleRejection:
    """A rule rejection carrying `code` (one of the codes listed above)."""
    error = RuleRejection(message, rule=rule, rule_version=rule_version)
    error.code = code
    return error


ALL_CODES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "INVALID_INPUT",
            "COMMAND_CONFLICT",
            "FUTURE_DATED",
            "INVALID_ID_NUMBER",
            "UNKNOWN_PERSON",
            "OUT_OF_ORDER",
            "ALREADY_ENROLLED",
            "STATUS_CONFLICT",
            "NO_PERSONAL_ACCOUNT",
            "BALANCE_LIMIT_EXCEEDED",
            *BIND_REJECTION_CODES,
            "NOT_BOUND",
            *AUTHORIZE_REJECTION_CODES,
            "NOT_AUTHORIZED",
            "QUOTA_BELOW_USED",
            "INSUFFICIENT_BALANCE",
            "CATEGORY_NOT_ELIGIBLE",
            "PRESENTER_NOT_BOUND",
            "UNKNOWN_SETTLEMENT",
            "ALREADY_REVERSED",
            "SETTLEMENT_CONFLICT",
            "UNKNOWN_RULE_VERSION",
            "CONCURRENCY_CONFLICT",
            "UNKNOWN_PROVINCE",
            "WRONG_LEDGER",
            "STORAGE_ERROR",
        ]
    )
)
