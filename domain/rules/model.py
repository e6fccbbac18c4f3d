"""The RuleSet model. Every number and order the ledger decides by lives here."""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cached_property
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from domain.canonical import canonical_json
from domain.platform_record import MedType
from domain.vocabulary import (  # re-exported too
    AidRelationship,
    BindingRelationship,
    Category,
    Insurance,
    RelationshipKind,
    SpendingOrder,
    Verification,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BindingRules(_Frozen):
    members_active_max: int | None = Field(5, ge=1)
    members_new_per_month_max: int | None = Field(5, ge=1)
    binders_active_max: int | None = Field(None, ge=1)
    binders_new_per_month_max: int | None = Field(2, ge=1)
    members_by_kind_max: dict[RelationshipKind, int] = Field(default_factory=dict)
    relationships: tuple[BindingRelationship, ...] = ("parent", "child", "spouse", "other")
    face_verification_age_min: int = Field(16, ge=0)
    verifications_adult: tuple[Verification, ...] = ("face", "counter")
    verifications_minor: tuple[Verification, ...] = ("documents", "face", "counter")
    exclusive: bool = False
    rebind_wait_minutes: int = Field(0, ge=0)


class MutualAidRules(_Frozen):
    authorizer_insurance: tuple[Insurance, ...] = ("employee",)
    relationships: tuple[AidRelationship, ...] = ("spouse", "parent", "child")
    cross_province: bool = False


class SpendingRules(_Frozen):
    own_account_first: bool = True
    order: SpendingOrder = "largest_balance_first"
    single_authorizer: bool = False
    shareable_above_fen: int = Field(0, ge=0)
    eligible_categories: tuple[Category, ...] = ("hospital_self_pay", "pharmacy", "resident_premium")


_PHARMACY_PURCHASE: dict[str, Category] = {"41": "pharmacy"}  # med_type 41: 定点药店购药


class NationalRules(_Frozen):
    """How the national platform's settlement records (interfaces 2207, 2208, 3201) map onto the
    ledger's own decisions. They decide nothing about who pays: they translate and compare."""

    # Whether the province's `acct_pay` reports the whole personal-account payment (own account and
    # relatives' mutual aid together) or only the patient's own account (shared/SPEC.md: own only).
    acct_pay_includes_mutual_aid: bool = False
    # The ledger's category of a settlement from its `med_type`; others get `category_default`.
    category_by_med_type: dict[MedType, Category] = Field(default_factory=lambda: _PHARMACY_PURCHASE.copy())
    category_default: Category = "hospital_self_pay"

    def category_of(self, med_type: str) -> Category:
        return self.category_by_med_type.get(med_type, self.category_default)


class RuleSet(_Frozen):
    """A resolved, complete rule set. `version` is what decisions record."""

    version: str = Field(min_length=1)
    description: str = ""
    effective_from: date
    regions: tuple[str, ...] = ()  # 6-digit region-code prefixes; "" = everywhere; () = what-if only
    binding: BindingRules = BindingRules()
    mutual_aid: MutualAidRules = MutualAidRules()
    spending: SpendingRules = SpendingRules()
    national: NationalRules = NationalRules()

    @model_validator(mode="after")
    def _regions_are_prefixes(self) -> RuleSet:
        for prefix in self.regions:
            if not (prefix.isdigit() or prefix == "") or len(prefix) > 6:
                raise ValueError(f"regions: {prefix!r} is not a prefix of a 6-digit region code")
        return self

    @cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of the rule set's whole content: `model_dump(mode="json")` as JSON with
        sorted keys, no spaces, UTF-8. Decisions record it beside `version`, so content changed
        under an unchanged label is detected (RULES_CHANGED)."""
        return rule_digest(self.model_dump(mode="json"))

    @model_serializer(mode="wrap")
    def _national_only_when_set(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """The `national` section is left out of the JSON content while it holds its defaults, so
        a rule set that does not set it has the JSON, and the digest, it had before the section
        existed: recorded digests and evidence bundles stay valid. Set otherwise, it counts. (A
        Python dump keeps it, so a variant's table merges into the base's as every section does.)"""
        content = handler(self)
        if info.mode == "json" and self.national == NationalRules():
            content.pop("national", None)
        return content

    def covers(self, region: str) -> int | None:
        """Length of the longest prefix of `region` in scope, or None when out of scope."""
        lengths = [len(p) for p in self.regions if region.startswith(p)]
        return max(lengths) if lengths else None


def rule_digest(content: dict) -> str:
    """The digest of a rule set's JSON content (`RuleSet.model_dump(mode="json")`)."""
    return hashlib.sha256(canonical_json(content)).hexdigest()
