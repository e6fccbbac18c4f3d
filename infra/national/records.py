"""The national platform's records, as strict pydantic models with the platform's own field names.

- `Settlement2207`: one line of `ledger import national` for a settlement: the 2207 request
  envelope with its `input.data`, and the platform's answer's `output` (`output.setlinfo` is the
  settlement as the platform recorded it).
- `Reversal2208`: a reversal request (`input.data` names `setl_id`, `mdtrt_id`, `psn_no`).
- `Statement3201`: a statement-totals request (one `setl_optins` x `insutype` x `clr_type` x
  period for one `fixmedins_code`).
- `DetailLine`: one line of an institution's 3202 detail: a 2207 `setlinfo`, with the row's
  `refd_setl_flag` (`1`: the settlement was reversed).
- `AnswerEnvelope`: the platform's answer (`infcode` 0 or -1, `inf_refmsgid`, `err_msg`, `output`).

Unknown fields are refused, like the ledger's own commands, but for the documented fields of the
platform's setlinfo the ledger reads past (PASSED_OVER_FIELDS). `certno` and `mdtrt_cert_no` are
often plain ID numbers: they are `SecretStr`, so they stay in memory and no dump, repr or message
of a record carries them. Every amount is integer fen here (`fields.Fen`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from infra.national.fields import (
    Admdvs,
    CertNumber,
    Code,
    Count,
    Fen,
    Flag,
    Insutype,
    Key,
    MdtrtCertType,
    MedType,
    Operator,
    PassedOver,
    PlatformDate,
    PlatformTime,
    PsnCertType,
    Reference,
    Text,
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Envelope(_Record):
    """The request envelope. `fixmedins_code` (the institution) is needed to translate a record;
    the transport fields may be left out of an import line, and are checked when given."""

    msgid: Key | None = None
    fixmedins_code: Key
    insuplc_admdvs: Admdvs | None = None  # the insured's region
    mdtrtarea_admvs: Admdvs | None = None  # the region of treatment
    inf_time: PlatformTime | None = None  # when the request was sent (UTC+8)
    opter: Operator | None = None


# --- 2207 settlement -------------------------------------------------------------------------
class Settlement2207Data(_Record):
    psn_no: Reference
    mdtrt_cert_type: MdtrtCertType
    mdtrt_cert_no: CertNumber
    med_type: MedType
    medfee_sumamt: Fen
    psn_setlway: Code
    mdtrt_id: Reference
    chrg_bchno: Reference
    insutype: Insutype
    acct_used_flag: Flag
    # Optional in the platform's 2207 request (only some settlements carry them).
    fulamt_ownpay_amt: Fen | None = None
    overlmt_selfpay: Fen | None = None
    preselfpay_amt: Fen | None = None
    inscp_scp_amt: Fen | None = None


class Setlinfo(_Record):
    """A settlement as the platform recorded it (2207 `output.setlinfo`, one 3202 detail line)."""

    setl_id: Key
    mdtrt_id: Reference
    psn_no: Reference
    psn_cert_type: PsnCertType
    certno: CertNumber
    insutype: Insutype
    setl_time: PlatformTime
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    psn_part_amt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen
    acct_mulaid_pay: Fen
    balc: Fen
    medins_setl_id: Reference
    clr_optins: Admdvs
    clr_way: Code
    clr_type: Code
    # The platform's answer carries more than the ledger compares: the other funds' parts, the
    # patient's name, sex, birth date and age, ... Those of PASSED_OVER_FIELDS are read past
    # (never kept, never echoed); any other field is refused, as in the ledger's own commands.
    act_pay_dedc: PassedOver = None  # the deductible actually applied
    hifp_pay: PassedOver = None  # pooled fund (统筹基金)
    pool_prop_selfpay: PassedOver = None  # the pooled fund's self-paid ratio
    cvlserv_pay: PassedOver = None  # civil servants' subsidy
    hifes_pay: PassedOver = None  # enterprise supplementary insurance
    hifmi_pay: PassedOver = None  # residents' serious-illness insurance
    hifob_pay: PassedOver = None  # employees' large-expense subsidy
    hifdm_pay: PassedOver = None  # disabled servicemen's fund
    maf_pay: PassedOver = None  # medical assistance
    oth_pay: PassedOver = None  # other funds
    hosp_part_amt: PassedOver = None  # borne by the hospital
    fulamt_ownpay_amt: PassedOver = None  # self-paid in full (also in the 2207 request)
    overlmt_selfpay: PassedOver = None  # over the limit
    preselfpay_amt: PassedOver = None  # self-paid first
    inscp_scp_amt: PassedOver = None  # within the policy's scope
    psn_name: PassedOver = None
    gend: PassedOver = None
    naty: PassedOver = None
    brdy: PassedOver = None
    age: PassedOver = None
    psn_type: PassedOver = None
    cvlserv_flag: PassedOver = None
    mdtrt_cert_type: PassedOver = None
    med_type: PassedOver = None
    insu_admdvs: PassedOver = None


# The platform's setlinfo fields the ledger reads past (docs/national.md).
PASSED_OVER_FIELDS = tuple(name for name in Setlinfo.model_fields if name not in (
    "setl_id", "mdtrt_id", "psn_no", "psn_cert_type", "certno", "insutype", "setl_time", "medfee_sumamt",
    "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "acct_mulaid_pay", "balc", "medins_setl_id",
    "clr_optins", "clr_way", "clr_type"))  # fmt: skip


class DetailLine(Setlinfo):
    refd_setl_flag: Flag = "0"  # "1": the settlement was reversed (refunded)


class Settlement2207Input(_Record):
    data: Settlement2207Data


class Settlement2207Output(_Record):
    setlinfo: Setlinfo


class Settlement2207(_Envelope):
    infno: Literal["2207"]
    input: Settlement2207Input
    output: Settlement2207Output


# --- 2208 reversal ---------------------------------------------------------------------------
class Reversal2208Data(_Record):
    setl_id: Key
    mdtrt_id: Reference
    psn_no: Reference


class Reversal2208Input(_Record):
    data: Reversal2208Data


class Reversal2208(_Envelope):
    infno: Literal["2208"]
    input: Reversal2208Input


# --- 3201 statement totals -------------------------------------------------------------------
class Statement3201Data(_Record):
    insutype: Insutype
    clr_type: Code
    setl_optins: Admdvs
    stmt_begndate: PlatformDate
    stmt_enddate: PlatformDate
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    fixmedins_setl_cnt: Count
    refd_setl_flag: Flag

    @field_validator("stmt_enddate")
    @classmethod
    def _not_before_the_beginning(cls, value: date, info: ValidationInfo) -> date:
        begins = info.data.get("stmt_begndate")
        if begins is not None and value < begins:
            raise PydanticCustomError("period", "must not be before stmt_begndate")
        return value


class Statement3201Input(_Record):
    data: Statement3201Data


class Statement3201(_Envelope):
    infno: Literal["3201"]
    input: Statement3201Input


class Stmtinfo(_Record):
    stmt_rslt: Flag  # "0" balanced, "1" not
    stmt_rslt_dscr: Text


class Statement3201Output(_Record):
    stmtinfo: Stmtinfo


# --- answers ---------------------------------------------------------------------------------
class EmptyOutput(_Record):
    """The `output` of a refusal."""


class AnswerEnvelope(_Record):
    infcode: Literal[0, -1]
    # The answering side's own message id (the platform writes region code, time and a serial
    # number), not an echo of the request's msgid.
    inf_refmsgid: Key
    err_msg: Text = ""
    output: Settlement2207Output | Statement3201Output | EmptyOutput
