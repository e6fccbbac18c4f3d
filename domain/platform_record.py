"""The platform record: what the ledger keeps of the national platform's record of a settlement
(interface 2207) beside its own decision, on the settlement aggregate (docs/national.md).

A deduction records what the ledger decides and keys on (the settlement id, the institution, the
time, the patient, the amount, the split). The platform record keeps the rest of the platform's
settlement, the fields the ledger does not decide, so that an export can write the settlement
back in the platform's shape, a statement (3201) can be totalled by its keys and a reversal
(2208) checked against the visit it names:

- `mdtrt_id`, `psn_no`, `medins_setl_id`, `chrg_bchno`: the platform's and the institution's own
  references to the visit, the person, the settlement and the charge batch;
- `insutype`, `clr_optins`, `clr_way`, `clr_type`: the keys of a statement;
- `medfee_sumamt`, `fund_pay_sumamt`, `psn_part_amt` and the optional 2207 amounts (fen): what a
  statement adds up (`psn_part_amt` also when the accounts paid nothing);
- `med_type` (what chose the category), `mdtrt_cert_type`, `psn_setlway`, `acct_used_flag`,
  `psn_cert_type`, and `certno` masked.

No plain ID number is in it: `certno_masked` is a masked resident ID number or asterisks, and
references holding anything like an ID number are kept masked. What the ledger decides itself
(`acct_pay`, `acct_mulaid_pay`, `psn_cash_pay`, `balc`) is not kept: its decision stands.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.masking import mask_id_numbers

# The platform's own references the ledger keeps (mdtrt_id, psn_no, chrg_bchno, medins_setl_id):
# printable ASCII; anything in them that looks like an ID number is kept masked.
Reference = Annotated[str, Field(pattern=r"^[!-~]{1,30}$"), AfterValidator(mask_id_numbers)]
Admdvs = Annotated[str, Field(pattern=r"^[0-9]{6}$")]  # an administrative division (region) code
Code = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,6}$")]  # psn_setlway, clr_way, clr_type
# A medical-treatment type (`med_type`: 11 outpatient, 21 inpatient, 41 pharmacy purchase, ...).
MedType = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,6}$")]
Flag = Literal["0", "1"]  # acct_used_flag, refd_setl_flag, stmt_rslt
Insutype = Literal["310", "390"]  # employee, resident
MdtrtCertType = Literal["01", "02", "03"]  # e-voucher, resident ID card, social-security card
# The platform's dictionary of personal certificates (psn_cert_type): 01 resident ID card
# (household register), 02-15 officers', travel, residence and work permits, 90 social-security
# card, 99 other. Only 01 carries a resident ID number the ledger can use.
PsnCertType = Literal[
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "90", "99"
]
CertnoMasked = Annotated[str, Field(pattern=r"^[0-9X]{6}\*{8}[0-9X]{4}$|^\*{1,50}$")]


def _whole_number(value: object) -> object:
    """A JSON number written with a fraction of zero (`7000.0`) is the integer the schema says it
    is (JSON Schema's "integer" admits it); anything else is left to the strict check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The platform's amounts: up to 999,999,999,999.99
Fen = Annotated[int, Field(ge=0, le=99_999_999_999_999), BeforeValidator(_whole_number)]


class PlatformRecord(BaseModel):
    """Part of a command (`deduct`, `record-settlement`) and of the settlement's events; strict,
    so that what is stored is exactly what was checked."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    mdtrt_id: Reference
    psn_no: Reference
    psn_cert_type: PsnCertType
    certno_masked: CertnoMasked
    mdtrt_cert_type: MdtrtCertType
    insutype: Insutype
    med_type: MedType
    psn_setlway: Code
    chrg_bchno: Reference
    acct_used_flag: Flag
    medfee_sumamt_fen: Fen
    fund_pay_sumamt_fen: Fen
    psn_part_amt_fen: Fen
    fulamt_ownpay_amt_fen: Fen | None = None
    overlmt_selfpay_fen: Fen | None = None
    preselfpay_amt_fen: Fen | None = None
    inscp_scp_amt_fen: Fen | None = None
    medins_setl_id: Reference
    clr_optins: Admdvs
    clr_way: Code
    clr_type: Code

    @property
    def accounts_may_pay(self) -> bool:
        """Whether the record leaves the personal accounts anything to pay: a deduction."""
        return self.acct_used_flag == "1" and self.psn_part_amt_fen > 0


def first_difference(stored: PlatformRecord, incoming: PlatformRecord) -> str | None:
    """The first field (in the model's order) in which two records of one settlement differ."""
    return next(
        (name for name in PlatformRecord.model_fields if getattr(stored, name) != getattr(incoming, name)), None
    )
