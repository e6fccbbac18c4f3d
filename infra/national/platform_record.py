"""What the ledger keeps of a 2207 record beside its own deduction: the platform record.

A deduction records what the ledger decides and what it keys on: the settlement id (`setl_id`),
the institution (`fixmedins_code`), the time (`setl_time`), the patient (pseudonymised and
masked), the amount (`psn_part_amt`) and the split. The platform record keeps the rest of the
platform's settlement, the fields the ledger does not decide, so that an export can write the
settlement back in the platform's shape and a 3201 statement can be totalled by its keys:

- `mdtrt_id`, `psn_no`, `medins_setl_id`, `chrg_bchno`: the platform's and the institution's own
  references to the visit, the person, the settlement and the charge batch (a 2208 names
  `mdtrt_id` and `psn_no`, and is checked against them);
- `insutype`, `clr_optins`, `clr_way`, `clr_type`: the keys of a 3201 statement;
- `medfee_sumamt`, `fund_pay_sumamt` and `psn_part_amt` (fen): the totals a statement adds up
  (`psn_part_amt` also when the accounts paid nothing and there is no deduction), and the
  optional 2207 amounts `fulamt_ownpay_amt`, `overlmt_selfpay`, `preselfpay_amt`, `inscp_scp_amt`;
- `med_type` (what chose the category), `mdtrt_cert_type` (how the patient was identified),
  `psn_setlway`, `acct_used_flag` (whether the accounts could pay at all), `psn_cert_type`.

No plain ID number is in it: `certno` is kept only as `domain.ids.mask(...)` when it is a resident
ID number (`psn_cert_type` 01) and as asterisks otherwise (another document's number is no use to
the ledger); `mdtrt_cert_no` (an e-voucher token, an ID card number or a social-security card
number) is not kept at all; references that look like an ID number are kept masked. What the
ledger decides itself (`acct_pay`, `acct_mulaid_pay`, `psn_cash_pay`, `balc`) is not kept: the
ledger's decision stands, and the platform's figures are reported as discrepancies. The
envelope's transport fields (`msgid`, `inf_time`, `opter`, the region codes) are not kept either.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import InvalidIdNumberError, SettlementConflictError
from domain.ids import parse_id_number
from domain.masking import mask
from infra.national.fields import Admdvs, Code, Flag, Insutype, MdtrtCertType, MedType, PsnCertType, Reference
from infra.national.records import Settlement2207

FenField = Annotated[int, Field(ge=0)]


class PlatformRecord(BaseModel):
    """Stored as `model_dump(mode="json")` and read back with `model_validate` (strict)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    mdtrt_id: Reference
    psn_no: Reference
    psn_cert_type: PsnCertType
    certno_masked: Annotated[str, Field(pattern=r"^[0-9X]{6}\*{8}[0-9X]{4}$|^\*{1,50}$")]
    mdtrt_cert_type: MdtrtCertType
    insutype: Insutype
    med_type: MedType
    psn_setlway: Code
    chrg_bchno: Reference
    acct_used_flag: Flag
    medfee_sumamt_fen: FenField
    fund_pay_sumamt_fen: FenField
    psn_part_amt_fen: FenField
    fulamt_ownpay_amt_fen: FenField | None = None
    overlmt_selfpay_fen: FenField | None = None
    preselfpay_amt_fen: FenField | None = None
    inscp_scp_amt_fen: FenField | None = None
    medins_setl_id: Reference
    clr_optins: Admdvs
    clr_way: Code
    clr_type: Code


# Where each kept field comes from in a 2207 line, to name it in a refusal.
SOURCES: dict[str, str] = {
    "mdtrt_id": "output.setlinfo.mdtrt_id",
    "psn_no": "output.setlinfo.psn_no",
    "psn_cert_type": "output.setlinfo.psn_cert_type",
    "certno_masked": "output.setlinfo.certno",
    "mdtrt_cert_type": "input.data.mdtrt_cert_type",
    "insutype": "output.setlinfo.insutype",
    "med_type": "input.data.med_type",
    "psn_setlway": "input.data.psn_setlway",
    "chrg_bchno": "input.data.chrg_bchno",
    "acct_used_flag": "input.data.acct_used_flag",
    "medfee_sumamt_fen": "output.setlinfo.medfee_sumamt",
    "fund_pay_sumamt_fen": "output.setlinfo.fund_pay_sumamt",
    "psn_part_amt_fen": "output.setlinfo.psn_part_amt",
    "fulamt_ownpay_amt_fen": "input.data.fulamt_ownpay_amt",
    "overlmt_selfpay_fen": "input.data.overlmt_selfpay",
    "preselfpay_amt_fen": "input.data.preselfpay_amt",
    "inscp_scp_amt_fen": "input.data.inscp_scp_amt",
    "medins_setl_id": "output.setlinfo.medins_setl_id",
    "clr_optins": "output.setlinfo.clr_optins",
    "clr_way": "output.setlinfo.clr_way",
    "clr_type": "output.setlinfo.clr_type",
}


def masked_certno(psn_cert_type: str, certno: str) -> str:
    """A resident ID number (type 01) masked as everywhere in the ledger; any other document's
    number, or one that is not a valid ID number, entirely hidden."""
    if psn_cert_type == "01":
        try:
            return mask(parse_id_number(certno)[0])
        except InvalidIdNumberError:
            pass
    return "*" * len(certno)


def platform_record(record: Settlement2207) -> PlatformRecord:
    data, setlinfo = record.input.data, record.output.setlinfo
    return PlatformRecord(
        mdtrt_id=setlinfo.mdtrt_id,
        psn_no=setlinfo.psn_no,
        psn_cert_type=setlinfo.psn_cert_type,
        certno_masked=masked_certno(setlinfo.psn_cert_type, setlinfo.certno.get_secret_value()),
        mdtrt_cert_type=data.mdtrt_cert_type,
        insutype=setlinfo.insutype,
        med_type=data.med_type,
        psn_setlway=data.psn_setlway,
        chrg_bchno=data.chrg_bchno,
        acct_used_flag=data.acct_used_flag,
        medfee_sumamt_fen=setlinfo.medfee_sumamt,
        fund_pay_sumamt_fen=setlinfo.fund_pay_sumamt,
        psn_part_amt_fen=setlinfo.psn_part_amt,
        fulamt_ownpay_amt_fen=data.fulamt_ownpay_amt,
        overlmt_selfpay_fen=data.overlmt_selfpay,
        preselfpay_amt_fen=data.preselfpay_amt,
        inscp_scp_amt_fen=data.inscp_scp_amt,
        medins_setl_id=setlinfo.medins_setl_id,
        clr_optins=setlinfo.clr_optins,
        clr_way=setlinfo.clr_way,
        clr_type=setlinfo.clr_type,
    )


def check_same_record(stored: PlatformRecord, incoming: PlatformRecord) -> None:
    """A `setl_id` imported again must carry the same platform record: SETTLEMENT_CONFLICT naming
    the first field that differs (the ledger's own fingerprint already covers patient, amount,
    category and institution)."""
    for name in PlatformRecord.model_fields:
        if getattr(stored, name) != getattr(incoming, name):
            field = SOURCES[name]
            raise SettlementConflictError(
                f"{field}: this setl_id was imported with another {field.rsplit('.', 1)[1]}", field=field
            )
