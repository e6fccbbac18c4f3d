"""The ledger's closed vocabularies, each defined once: the events, the rule sets and the
commands at the edge all use these.
"""

from __future__ import annotations

from typing import Literal

Insurance = Literal["employee", "resident"]
# A person's insurance status: enrolled active; suspended (断缴); cancelled (注销) or expired (过期), both final.
Status = Literal["active", "suspended", "cancelled", "expired"]
CreditSource = Literal["monthly_contribution", "transfer_in", "adjustment"]
Channel = Literal["alipay", "wechat", "nhsa_app", "bank_app", "counter"]
Verification = Literal["face", "counter", "documents"]
BindingRelationship = Literal["parent", "child", "spouse", "other"]
AidRelationship = Literal["spouse", "parent", "child", "sibling", "grandparent", "grandchild"]
# What a bound member is to the binder, for per-relationship caps (seed 003).
RelationshipKind = Literal["father", "mother", "spouse", "child", "other"]
Category = Literal["hospital_self_pay", "pharmacy", "resident_premium", "public_health", "fitness", "wellness"]
SpendingOrder = Literal["largest_balance_first", "most_recent_first"]
UnbindReason = Literal[
    "binder_request",
    "member_request",
    "credential_removed",
    "account_cancelled",
    "account_expired",
    "system_forced",
    "policy_adjustment",
    "quota_enforcement",
]
AuthorizationEndReason = Literal[
    "revoked_by_authorizer", "revoked_by_beneficiary", "account_cancelled", "account_expired", "transferred"
]
# Why a cross-province quota (or part of it) went back to the authorizer: the tie ended for one of
# the reasons above, the quota was lowered, or the beneficiary's ledger could not take it.
QuotaReleaseReason = Literal[
    "revoked_by_authorizer",
    "revoked_by_beneficiary",
    "account_cancelled",
    "account_expired",
    "transferred",
    "lowered",
    "refused",
]
BindingRole = Literal["binder", "member"]
AidRole = Literal["authorizer", "beneficiary"]
UnbindInitiator = Literal["binder", "member", "system"]  # who ends a binding
RevokeInitiator = AidRole  # who ends an authorization
Initiator = Literal["binder", "member", "system", "authorizer", "beneficiary"]  # either of the two
