"""A 2207 record's platform record (domain.platform_record: what the ledger keeps of it beside its
own deduction), and where each of its fields comes from in the record (SOURCES), so that an
answer names the record's field (`output.setlinfo.clr_type` for `platform.clr_type`).

`certno` is kept only as `domain.masking.mask(...)` when it is a resident ID number
(`psn_cert_type` 01) and as asterisks otherwise (another document's number is no use to the
ledger); `mdtrt_cert_no` (an e-voucher token, an ID card number or a social-security card number)
is not kept at all. The envelope's transport fields (`msgid`, `inf_time`, `opter`, the region
codes) are not kept either.
"""

from __future__ import annotations

from domain.errors import InvalidIdNumberError
from domain.ids import parse_id_number
from domain.masking import mask
from domain.platform_record import PlatformRecord
from infra.national.records import Settlement2207

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
