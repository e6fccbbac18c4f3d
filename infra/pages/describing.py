"""What a recorded fact says, in the auditor's words: the particulars of a timeline event, a
refusal, and why a deduction used an account where it did, built from the answers' fields with
the bilingual vocabulary (infra.pages.vocabulary) and the page formatters (infra.pages.templating).

The answers' own English (`text`, `why`, a refusal's `message`) stays in the JSON; pages show
these bilingual forms, with the recorded message quoted as it was recorded (`verbatim`).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from infra.pages.formatting import term, yuan

# A timeline row's fields, in the order they are told, with their label and vocabulary (None: as
# recorded; "yuan": money). `reason` depends on the event (see REASON_VOCABULARY).
FACTS: tuple[tuple[str, str, str | None], ...] = (
    ("insurance", "Scheme 险种", "insurance"),
    ("region", "Region 地区", None),
    ("region_from", "From region 转出地区", None),
    ("region_to", "To region 转入地区", None),
    ("role", "As 身份", "role"),
    ("counterpart", "With 对方", None),
    ("patient", "Patient 患者", None),
    ("relationship", "Relationship 关系", "relationship"),
    ("channel", "Channel 渠道", "channel"),
    ("verification", "Check 核验方式", "verification"),
    ("reason", "Reason 原因", "reason"),
    ("initiated_by", "Started by 发起方", "initiator"),
    ("settlement_id", "Settlement 结算号", None),
    ("amount_fen", "Amount 金额", "yuan"),
    ("source", "Source 来源", "credit_source"),
    ("category", "Category 类别", "category"),
    ("out_of_pocket_fen", "Out of pocket 自付", "yuan"),
)
# A reason is a code of the ending's vocabulary, or free text from the sender (a suspension's,
# a reversal's), shown as it was given.
REASON_VOCABULARY = {"BindingEnded": "unbind_reason", "AuthorizationEnded": "end_reason"}
SEPARATOR = Markup(" · ")


def fact(label: str, value: Markup | str) -> Markup:
    return Markup('<span class="fact"><span class="k">{}</span> {}</span>').format(label, value)


def verbatim(text: str) -> Markup:
    """Free text as the ledger recorded it (a sender's reason, a refusal's English message)."""
    return Markup('<q class="verbatim" lang="en">{}</q>').format(text)


def _value(row: dict[str, Any], name: str, vocabulary: str | None) -> Markup | str:
    value = row[name]
    if vocabulary == "yuan":
        return yuan(value)
    if vocabulary == "reason":
        kind = REASON_VOCABULARY.get(row.get("type", ""))
        return term(value, kind, tag=False) if kind else verbatim(value)
    return term(value, vocabulary, tag=False) if vocabulary else str(value)


def event_facts(row: dict[str, Any]) -> Markup:
    """The particulars of one timeline event (infra.audit.history's row), bilingual."""
    parts = [fact(label, _value(row, name, vocabulary)) for name, label, vocabulary in FACTS if name in row]
    if row.get("lines"):
        paid = ", ".join(f"{line['person']} {yuan(line['amount_fen'])}" for line in row["lines"])
        parts.append(fact("Paid by 支付账户", paid))
    return SEPARATOR.join(parts) if parts else Markup("—")


def refusal(row: dict[str, Any]) -> Markup:
    """A refused decision: its code and the rule that refused, labelled, and the message recorded."""
    if not row.get("code"):
        return Markup("—")
    parts = [term(row["code"], "code")]
    if row.get("rule"):
        parts.append(Markup("{} {}").format(Markup("<br>"), term(row["rule"], "rule")))
    if row.get("message"):
        parts.append(Markup("{} {}").format(Markup("<br>"), verbatim(row["message"])))
    return Markup("").join(parts)


def placement(candidate: dict[str, Any], rules: dict[str, Any]) -> Markup:
    """Why a deduction's account stands where it does in the order (the replay's `why`, whose
    English is on hover), from the candidate's role and the spending rules in force."""
    if candidate["role"] == "patient":
        first = rules.get("own_account_first")
        text: Markup | str = (
            "Own account, used first 本人账户，优先使用" if first else "Own account, used last 本人账户，最后使用"
        )
    elif candidate.get("rank") is None:
        text = "Not used (see the reason on hover) 未使用"
    else:
        order = term(rules.get("order"), "spending_order", tag=False)
        text = order
        if rules.get("order") == "largest_balance_first":
            text = Markup("{}; ties: earlier authorization first 余额相同时先授权者优先").format(order)
        if rules.get("shareable_above_fen"):
            text = Markup("{}; only the balance above {} may be shared 仅超出部分可共济").format(
                text, yuan(rules["shareable_above_fen"])
            )
    return Markup('<span title="{}">{}</span>').format(candidate["why"], text)
