"""Every code the ledger shows people, with its English and Chinese label: the presentation data
of the console, the offline audit and report files and the compliance report's HTML.

The codes themselves stay the ledger's (JSON and CSV keep them; pages show each beside its label
in a small tag, so that someone who searches by code still finds it). Each vocabulary here is
checked against the closed vocabulary it labels (tests/unit/test_vocabulary.py): the Literal
types of domain/vocabulary.py, the error codes of domain/errors.py and of infra's LedgerError
classes, the rule-set fields and rule names the decisions cite, the event classes of
domain/events.py, the command table and the views. A code the domain gains without a label
fails that test; a page asked for an unknown code still renders it, as its code (`term`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.pages.event_labels import EVENT as EVENT  # re-exported: every vocabulary is named here

Labels = dict[str, tuple[str, str]]  # code -> (English, 中文)


@dataclass(frozen=True)
class Term:
    kind: str
    code: str
    en: str
    zh: str
    description: str = ""  # one line, for event types

    @property
    def label(self) -> str:
        return f"{self.en} {self.zh}" if self.zh else self.en


STATUS: Labels = {
    "active": ("Active", "正常参保"),
    "suspended": ("Suspended", "暂停（断缴）"),
    "cancelled": ("Cancelled", "已注销"),
    "expired": ("Expired", "已过期"),
}
INSURANCE: Labels = {"employee": ("Employee scheme", "职工医保"), "resident": ("Resident scheme", "城乡居民医保")}
RELATIONSHIP: Labels = {  # binding and mutual-aid relationships, and the kinds the per-relationship caps count
    "parent": ("Parent", "父母"),
    "child": ("Child", "子女"),
    "spouse": ("Spouse", "配偶"),
    "other": ("Other close relative", "其他近亲属"),
    "sibling": ("Sibling", "兄弟姐妹"),
    "grandparent": ("Grandparent", "祖父母、外祖父母"),
    "grandchild": ("Grandchild", "孙子女、外孙子女"),
    "father": ("Father", "父亲"),
    "mother": ("Mother", "母亲"),
}
ROLE: Labels = {  # a person's part in a tie or a payment
    "binder": ("Binder", "绑定人"),
    "member": ("Member", "被绑定人"),
    "authorizer": ("Authorizer", "授权人"),
    "beneficiary": ("Beneficiary", "被授权人"),
    "patient": ("Patient", "患者本人"),
}
INITIATOR: Labels = {**{k: v for k, v in ROLE.items() if k != "patient"}, "system": ("The ledger", "系统")}
KEY_ROLE: Labels = {  # who holds a service key
    "channel": ("Channel", "渠道"),
    "institution": ("Institution", "定点医药机构"),
    "fund": ("Insurance agency", "医保经办机构"),
    "auditor": ("Auditor", "审计人员"),
    "operator": ("Operator", "运维人员"),
    "admin": ("Administrator", "管理员"),
}
CATEGORY: Labels = {
    "hospital_self_pay": ("Hospital, patient's share", "医院个人自付部分"),
    "pharmacy": ("Designated pharmacy", "定点药店购药"),
    "resident_premium": ("Resident-scheme premium", "居民医保缴费"),
    "public_health": ("Public health", "公共卫生"),
    "fitness": ("Fitness", "健身"),
    "wellness": ("Wellness", "养生保健"),
}
CREDIT_SOURCE: Labels = {
    "monthly_contribution": ("Monthly contribution", "月度划入"),
    "transfer_in": ("Transferred in", "转入"),
    "adjustment": ("Adjustment", "调整"),
}
CHANNEL: Labels = {
    "alipay": ("Alipay", "支付宝"),
    "wechat": ("WeChat", "微信"),
    "nhsa_app": ("National insurance app", "国家医保服务平台"),
    "bank_app": ("Bank app", "银行App"),
    "counter": ("Service counter", "经办窗口"),
    "unspecified": ("Not given", "未注明"),  # the report's bucket for a command that named no channel
}
VERIFICATION: Labels = {
    "face": ("Face recognition", "人脸识别"),
    "counter": ("Checked at a counter", "窗口核验"),
    "documents": ("Documents", "证明材料"),
}
UNBIND_REASON: Labels = {
    "binder_request": ("Binder asked", "绑定人申请解绑"),
    "member_request": ("Member asked", "被绑定人申请解绑"),
    "credential_removed": ("Credential removed", "移除凭证"),
    "account_cancelled": ("Account cancelled", "账户注销"),
    "account_expired": ("Account expired", "账户过期"),
    "system_forced": ("Ended by the system", "系统强制解绑"),
    "policy_adjustment": ("Policy change", "政策调整"),
    "quota_enforcement": ("Limit or duplicate enforced", "超限或重复清理"),
}
END_REASON: Labels = {  # why a mutual-aid authorization ended
    "revoked_by_authorizer": ("Revoked by the authorizer", "授权人撤销"),
    "revoked_by_beneficiary": ("Revoked by the beneficiary", "被授权人撤销"),
    "account_cancelled": ("Account cancelled", "账户注销"),
    "account_expired": ("Account expired", "账户过期"),
    "transferred": ("Moved to another region", "转出统筹区"),
}
SPENDING_ORDER: Labels = {
    "largest_balance_first": ("Largest balance first", "余额由多到少"),
    "most_recent_first": ("Most recently authorized first", "最近授权优先"),
}
CODE: Labels = {  # refusals and errors, in domain/errors.py's order, then the service's and the console's
    "INVALID_INPUT": ("Invalid input", "输入无效"),
    "COMMAND_CONFLICT": ("Command id reused", "指令编号重复"),
    "FUTURE_DATED": ("Dated in the future", "时间晚于当前"),
    "INVALID_ID_NUMBER": ("Invalid ID number", "身份证号码无效"),
    "UNKNOWN_PERSON": ("Unknown person", "查无此人"),
    "OUT_OF_ORDER": ("Earlier than what is recorded", "早于已记录的事件"),
    "ALREADY_ENROLLED": ("Already enrolled", "已参保"),
    "STATUS_CONFLICT": ("Status does not allow it", "参保状态不允许"),
    "NO_PERSONAL_ACCOUNT": ("No personal account", "无个人账户"),
    "BALANCE_LIMIT_EXCEEDED": ("Balance limit exceeded", "超出余额上限"),
    "PERSON_NOT_ACTIVE": ("Not active", "参保状态非正常"),
    "ALREADY_BOUND": ("Already bound", "已绑定"),
    "RELATIONSHIP_NOT_ALLOWED": ("Relationship not allowed", "关系不在允许范围"),
    "FACE_VERIFICATION_REQUIRED": ("Face recognition required", "须人脸识别"),
    "REBIND_COOLDOWN": ("Too soon to bind again", "重新绑定等待期未满"),
    "MEMBER_BOUND_ELSEWHERE": ("Member bound by another account", "已被其他账户绑定"),
    "MEMBER_LIMIT": ("Binder's member limit reached", "绑定成员数已达上限"),
    "RELATIONSHIP_LIMIT": ("Limit for this relationship reached", "该关系成员数已达上限"),
    "MONTHLY_BIND_LIMIT": ("Binder's monthly limit reached", "本月新增绑定已达上限"),
    "MEMBER_BINDERS_LIMIT": ("Member's binder limit reached", "绑定人数已达上限"),
    "MEMBER_MONTHLY_BINDERS_LIMIT": ("Member's monthly binder limit reached", "本月新增绑定人已达上限"),
    "NOT_BOUND": ("Not bound", "未绑定"),
    "AUTHORIZER_NOT_ELIGIBLE": ("Authorizer not eligible", "授权人不符合条件"),
    "ALREADY_AUTHORIZED": ("Already authorized", "已授权"),
    "CROSS_PROVINCE_NOT_ALLOWED": ("Across provinces not allowed", "不允许跨省共济"),
    "NOT_AUTHORIZED": ("Not authorized", "未授权"),
    "CATEGORY_NOT_ELIGIBLE": ("Category not payable from accounts", "该类别不可用个人账户支付"),
    "PRESENTER_NOT_BOUND": ("Presenter not bound", "出示凭证人未绑定"),
    "UNKNOWN_SETTLEMENT": ("Unknown deduction", "查无此笔扣款"),
    "ALREADY_REVERSED": ("Already reversed", "已冲正"),
    "SETTLEMENT_CONFLICT": ("Settlement id reused", "结算号重复"),
    "UNKNOWN_RULE_VERSION": ("No rule set in force", "无适用的规则版本"),
    "CONCURRENCY_CONFLICT": ("Changed at the same time", "并发冲突"),
    "STORAGE_ERROR": ("Storage unavailable", "存储不可用"),
    "QUOTA_BELOW_USED": ("Quota below what was drawn", "额度低于已使用"),
    "INSUFFICIENT_BALANCE": ("Balance too low for the quota", "可用余额不足"),
    "UNKNOWN_PROVINCE": ("No ledger for the province", "无该省账本"),
    "WRONG_LEDGER": ("Another province's ledger", "属于其他省账本"),
    "LEDGER_ERROR": ("Ledger error", "账本错误"),
    "UNAUTHORIZED": ("No valid key", "密钥无效"),
    "FORBIDDEN": ("Not allowed for this key", "无权访问"),
    "PURPOSE_REQUIRED": ("Purpose required", "须说明查询用途"),
    "NOT_SEALED": ("Not sealed yet", "尚未封存"),
    "SEAL_CONFLICT": ("Sealed at the same time", "封存冲突"),
    "SEAL_REFUSED": ("Seal refused: events the ledger did not write", "拒绝封存：含非账本写入的事件"),
    "SEAL_PUBLIC_KEY_INVALID": ("Configured public key malformed", "配置的公钥格式错误"),
    "EVENT_NOT_PROVEN": ("Event not written by the ledger", "事件非账本写入"),
    "SEAL_KEY_MISSING": ("No seal key configured", "未配置封存密钥"),
    "LOG_ALTERED": ("Log altered", "日志已被改动"),
    "VIEWS_BEHIND": ("Views behind", "视图滞后"),
    "NOT_FOUND": ("Not found", "未找到"),
    "METHOD_NOT_ALLOWED": ("Method not allowed", "请求方法不允许"),
    "HTTP_ERROR": ("Request error", "请求错误"),
    "BODY_TOO_LARGE": ("Request too large", "请求过大"),
    "INTERNAL_ERROR": ("Internal error", "内部错误"),
    "CSRF_REFUSED": ("Form check failed", "表单校验失败"),
}
RULE: Labels = {  # the rule-set fields and the rules decisions cite (a refusal's `rule`)
    "binding.both_active": ("Both people active", "双方参保状态正常"),
    "binding.unique_pair": ("Not bound twice", "不得重复绑定"),
    "binding.relationships": ("Relationships allowed", "允许绑定的关系"),
    "binding.face_verification_age_min": ("Face recognition from this age", "须人脸识别的年龄"),
    "binding.verifications_adult": ("Checks for members of that age", "达到该年龄的核验方式"),
    "binding.verifications_minor": ("Checks for younger members", "未满该年龄的核验方式"),
    "binding.rebind_wait_minutes": ("Wait before binding again (minutes)", "解绑后再绑定等待（分钟）"),
    "binding.exclusive": ("One account per member", "成员只能被一个账户绑定"),
    "binding.members_active_max": ("Members one binder may hold", "每人可绑定成员数"),
    "binding.members_new_per_month_max": ("New members per binder a month", "每月新增绑定成员数"),
    "binding.binders_active_max": ("Binders one member may have", "每位成员的绑定人数"),
    "binding.binders_new_per_month_max": ("New binders per member a month", "每月新增绑定人数"),
    "binding.members_by_kind_max": ("Members by relationship", "按关系的成员上限"),
    "mutual_aid.both_active": ("Both people active", "双方参保状态正常"),
    "mutual_aid.unique_pair": ("Not authorized twice", "不得重复授权"),
    "mutual_aid.authorizer_insurance": ("Schemes an authorizer may be in", "授权人须参加的险种"),
    "mutual_aid.relationships": ("Relationships allowed", "允许共济的关系"),
    "mutual_aid.cross_province": ("Across provinces", "跨省共济"),
    "quota.spendable": ("Quota within the spendable balance", "额度不超过可用余额"),
    "spending.own_account_first": ("Own account first", "先用本人账户"),
    "spending.order": ("Order of the relatives' accounts", "共济账户使用顺序"),
    "spending.single_authorizer": ("One authorizer per payment", "每次仅用一位授权人"),
    "spending.shareable_above_fen": ("Only the balance above this may be shared", "仅超出部分可共济"),
    "spending.eligible_categories": ("Categories payable from accounts", "可用个人账户支付的类别"),
}
COMMAND: Labels = {
    "enroll": ("Enrol", "参保登记"),
    "suspend": ("Suspend", "暂停"),
    "resume": ("Resume", "恢复"),
    "cancel": ("Cancel", "注销"),
    "expire": ("Expire", "过期"),
    "transfer": ("Move region", "转移统筹区"),
    "credit": ("Credit", "入账"),
    "bind": ("Bind", "绑定"),
    "unbind": ("Unbind", "解绑"),
    "authorize": ("Authorize mutual aid", "共济授权"),
    "revoke": ("Revoke mutual aid", "撤销共济授权"),
    "deduct": ("Deduct", "扣款"),
    "reverse": ("Reverse", "冲正"),
    "record-settlement": ("Record a settlement", "登记结算"),
    "set-quota": ("Set a cross-province quota", "调整跨省共济额度"),
    "quota-receive": ("Receive a quota (relay)", "接收共济额度（中继）"),
    "quota-raise": ("Receive a quota raise (relay)", "接收额度提高（中继）"),
    "quota-lower": ("Lower a quota (relay)", "降低额度（中继）"),
    "quota-end": ("End a quota (relay)", "终止额度（中继）"),
    "quota-settle": ("Settle a quota draw (relay)", "额度支用结算（中继）"),
    "quota-undraw": ("Undo a quota draw (relay)", "撤销额度支用（中继）"),
    "quota-return": ("Return unused quota (relay)", "退回未用额度（中继）"),
}
VIEW: Labels = {
    "persons": ("Persons", "人员"),
    "bindings": ("Bindings", "绑定关系"),
    "authorizations": ("Mutual aid", "共济授权"),
    "quota": ("Binding quota", "绑定额度"),
    "balances": ("Balances", "余额"),
    "earmarks": ("Cross-province quotas", "跨省共济额度"),
}
CHECK: Labels = {  # an evidence bundle's checks (infra/audit/bundle_check.py)
    "readable": ("Readable", "可读取"),
    "format": ("Format", "格式"),
    "structure": ("Structure", "结构"),
    "canonical": ("Canonical bytes", "规范字节"),
    "bundle_digest": ("Bundle digest", "证据包摘要"),
    "checkpoint_chain": ("Checkpoint chain", "检查点链"),
    "checkpoint_signatures": ("Checkpoint signatures", "检查点签名"),
    "anchor": ("Anchor", "锚点"),
    "events_included": ("Events included", "事件齐全"),
    "evidence_hashes": ("Evidence hashes", "证据哈希"),
    "rule_version": ("Rule version", "规则版本"),
    "rule_digest": ("Rule digest", "规则摘要"),
    "rule_set_as_shipped": ("Rule set as shipped", "规则与发布版一致"),
    "time_check_reproduced": ("Time check reproduced", "时间核验可复现"),
    "evidence_reproduced": ("Evidence reproduced", "证据可复现"),
    "replay_reproduced": ("Replay reproduced", "重算可复现"),
    "disclosed_states": ("States disclosed, not rebuilt", "披露状态（未重建）"),
}
PROBLEM: Labels = {  # kinds of problem the chain's verification reports
    "links": ("Broken link", "链接断开"),
    "inserted": ("Inserted", "被插入"),
    "deleted": ("Deleted", "被删除"),
    "altered": ("Altered", "被改动"),
    "reordered": ("Reordered", "顺序被改"),
    "checkpoint": ("Checkpoint", "检查点"),
    "signature": ("Signature", "签名"),
    "anchor": ("Anchor", "锚点"),
    "nothing_sealed": ("Nothing sealed", "尚未封存"),
    "unclassified": ("Unclassified", "未分类"),
    "event_mac": ("Event not written by the ledger", "事件非账本写入"),
    "access_log": ("Access log", "访问日志"),
    "key_log": ("Key log", "密钥日志"),
    "keys": ("Keys", "密钥"),
    "snapshot": ("Snapshot", "快照"),
}

VOCABULARIES: dict[str, Labels] = {
    "status": STATUS,
    "insurance": INSURANCE,
    "relationship": RELATIONSHIP,
    "role": ROLE,
    "initiator": INITIATOR,
    "key_role": KEY_ROLE,
    "category": CATEGORY,
    "credit_source": CREDIT_SOURCE,
    "channel": CHANNEL,
    "verification": VERIFICATION,
    "unbind_reason": UNBIND_REASON,
    "end_reason": END_REASON,
    "spending_order": SPENDING_ORDER,
    "code": CODE,
    "rule": RULE,
    "command": COMMAND,
    "event": {code: (en, zh) for code, (en, zh, _) in EVENT.items()},
    "view": VIEW,
    "check": CHECK,
    "problem": PROBLEM,
}


def term(kind: str, code: str) -> Term:
    """The label of `code` in vocabulary `kind`. An unknown code is its own label (the page
    still says what the ledger recorded; the vocabulary test names what is missing)."""
    labels = VOCABULARIES.get(kind)
    if labels is None:
        raise KeyError(f"no vocabulary {kind!r}; vocabularies are {', '.join(VOCABULARIES)}")
    if kind == "event" and code in EVENT:
        en, zh, description = EVENT[code]
        return Term(kind, code, en, zh, description)
    if kind == "rule" and code not in labels and code.startswith("binding.members_by_kind_max."):
        # one rule per relationship kind: "binding.members_by_kind_max.father"
        base, other = RULE["binding.members_by_kind_max"], term("relationship", code.rpartition(".")[2])
        return Term(kind, code, f"{base[0]}: {other.en}", f"{base[1]}：{other.zh}")
    en, zh = labels.get(code, (code, ""))
    return Term(kind, code, en, zh)


def all_codes() -> set[str]:
    """Every code that has a label: what the browser test looks for outside its tag."""
    return {code for labels in VOCABULARIES.values() for code in labels}
