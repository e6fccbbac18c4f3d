"""The bilingual labels of the ledger's events, with one line on what each means (the event
classes of domain/events.py, checked by tests/unit/test_vocabulary.py); the pages' other
vocabularies are in infra.pages.vocabulary, whose `term` looks events up here."""

from __future__ import annotations

EVENT: dict[str, tuple[str, str, str]] = {  # type -> (English, 中文, what it means in one line)
    "PersonEnrolled": (
        "Enrolled",
        "参保登记",
        "The person joined medical insurance in a region; their account opened.",
    ),
    "PersonSuspended": (
        "Suspended",
        "暂停参保",
        "Contributions lapsed: the account takes no new binding or mutual aid.",
    ),
    "PersonResumed": ("Resumed", "恢复参保", "Contributions resumed: the account is active again."),
    "PersonCancelled": ("Cancelled", "注销", "The account was closed; every binding and mutual aid it had ended."),
    "PersonExpired": ("Expired", "过期", "The account expired; every binding and mutual aid it had ended."),
    "PersonTransferred": ("Moved region", "转移统筹区", "The insurance moved to another pooling region."),
    "AccountCredited": ("Credited", "个人账户入账", "Money was paid into the personal account."),
    "BindingStarted": ("Bound", "亲情账户绑定", "The binder may now present the member's e-voucher (no money moves)."),
    "BindingEnded": ("Unbound", "解除绑定", "The binder can no longer present the member's e-voucher."),
    "BindRejected": ("Bind refused", "绑定被拒绝", "A bind was refused by a rule; no binding changed."),
    "AuthorizationGranted": (
        "Mutual aid granted",
        "家庭共济授权",
        "The beneficiary may now spend the authorizer's balance.",
    ),
    "AuthorizationEnded": (
        "Mutual aid ended",
        "共济授权终止",
        "The beneficiary may no longer spend the authorizer's balance.",
    ),
    "DeductionSettled": ("Deduction", "医保扣款", "A payment was settled from accounts, the rest paid out of pocket."),
    "AidDebited": (
        "Paid for a relative",
        "共济支付",
        "This account paid part of a relative's settlement by mutual aid.",
    ),
    "DeductionReversed": (
        "Deduction reversed",
        "扣款冲正",
        "The settlement was reversed; the accounts that paid got it back.",
    ),
    "AidRefunded": (
        "Mutual aid refunded",
        "共济退回",
        "Money this account paid for a relative's settlement came back.",
    ),
    "SettlementOpened": (
        "Settlement recorded",
        "结算登记",
        "The settlement id was taken, so it cannot be settled twice.",
    ),
    "SettlementReversed": ("Settlement reversed", "结算冲正", "The settlement index notes that it was reversed."),
    "QuotaEarmarked": (
        "Quota earmarked",
        "共济额度圈存",
        "Part of the balance was set aside for a relative in another province.",
    ),
    "QuotaReceived": (
        "Quota received",
        "收到共济额度",
        "A relative in another province earmarked a quota this account may draw on.",
    ),
    "QuotaRaised": ("Quota raised", "额度提高", "The authorizer earmarked more for the relative."),
    "QuotaRaiseReceived": (
        "Quota raise received",
        "收到额度提高",
        "The relative's quota grew by the authorizer's raise.",
    ),
    "QuotaLowerRequested": (
        "Quota lowering asked",
        "申请降低额度",
        "The authorizer asked the relative's ledger to lower the quota.",
    ),
    "QuotaEndRequested": (
        "Quota end asked",
        "申请终止额度",
        "The authorizer's side ended the tie; the relative's ledger gives back the rest.",
    ),
    "QuotaDrawn": (
        "Drawn on a quota",
        "支用共济额度",
        "Part of a settlement was paid from a relative's earmarked quota.",
    ),
    "QuotaDrawSettled": (
        "Quota draw paid",
        "额度支用扣款",
        "A relative's draw on the quota was paid from this balance and its earmark.",
    ),
    "QuotaUndrawn": ("Quota draw undone", "额度支用撤销", "A reversed settlement gave its draw back."),
    "QuotaDrawUndone": (
        "Quota draw refunded",
        "额度支用退回",
        "A reversed draw on the quota came back to this balance.",
    ),
    "QuotaReleased": (
        "Quota given back",
        "释放共济额度",
        "Unused quota went back to the authorizer (lowered or ended).",
    ),
    "QuotaReturned": ("Quota returned", "额度退回", "Unused quota came back and is spendable again."),
    "CommandRecorded": (
        "Command recorded",
        "指令登记",
        "A sender's command id and the answer, so a retry gets that answer.",
    ),
}
