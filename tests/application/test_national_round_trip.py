"""Round trips and amounts through the core, in memory.

Goal: what the ledger exports in the platform's shape, imported into a fresh ledger with the same
history before it, gives the same history (the same events, byte for byte but the ledger's own
recording time), and shows no discrepancy; and for any balances and any share the accounts may
pay, a record carrying the ledger's own figures agrees with it, while a record off by any amount
in one figure is reported in exactly that figure, whether its amounts are JSON strings or numbers.
Method: the Wuhan family of docs/examples (commands.jsonl, national-records.jsonl); hypothesis for
the amounts, each example on a fresh ledger."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.money import format_fen
from infra.core.bootstrap import ledger_of
from infra.core.ledger import Ledger as Core
from infra.eventstore.application import LedgerApp
from infra.eventstore.rule_files import load_catalogue
from infra.storage.event_macs import decoded_state
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.national import data_2207, line_2207, setlinfo, wuhan_family

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
CATALOGUE = load_catalogue()
APRIL = (date(2025, 4, 1), date(2025, 4, 30))
AMOUNT = re.compile(
    r'"(medfee_sumamt|fund_pay_sumamt|psn_part_amt|acct_pay|psn_cash_pay|acct_mulaid_pay|balc)": "([0-9.]+)"'
)


def fresh() -> Core:
    core = ledger_of(LedgerApp(settings_for("memory://"), catalogue=CATALOGUE))
    for line in (EXAMPLES / "commands.jsonl").read_text().splitlines():
        Ledger(core.app).apply_line(line)
    return core


def history(core: Core) -> list[tuple[Any, ...]]:
    """Every stored event: aggregate, version, type and content, but the ledger's recording time
    and its MAC over the event (which covers that time)."""
    found = []
    for n in core.app.recorder.iter_log():
        state = {k: v for k, v in decoded_state(n.state).items() if k != "recorded_at"}
        found.append((n.originator_id, n.originator_version, n.topic, state))
    return found


def test_export_then_import_into_a_fresh_ledger_gives_the_same_history():
    records = [json.loads(line) for line in (EXAMPLES / "national-records.jsonl").read_text().splitlines()]
    first = fresh()
    assert all(a["ok"] for a in first.national.import_lines(json.dumps(r) for r in records))
    exported = {row["setl_id"]: row for row in first.national.export(APRIL[0], APRIL[1], "H42010200017")}
    assert len(exported) == 3 and exported["42010000000422000003"]["refd_setl_flag"] == "1"
    rebuilt = []
    for record in records:  # the platform's answer replaced by the ledger's export of it
        if record["infno"] == "2207":
            row = exported[record["output"]["setlinfo"]["setl_id"]]
            info = {k: v for k, v in row.items() if k != "refd_setl_flag"} | {
                "certno": record["output"]["setlinfo"]["certno"]
            }
            record = record | {"output": {"setlinfo": info}}
        rebuilt.append(json.dumps(record))
    second = fresh()
    answers = list(second.national.import_lines(rebuilt))
    assert all(a["ok"] and a["discrepancies"] == [] for a in answers), answers
    assert history(second) == history(first)
    assert list(second.national.export(APRIL[0], APRIL[1], "H42010200017")) == list(exported.values())


def agreed(own_fen: int, aid_fen: int, part_fen: int) -> dict[str, int]:
    """The ledger's decision, by the default rules: own account first, then the relative's."""
    own = min(own_fen, part_fen)
    aid = min(aid_fen, part_fen - own)
    return {"acct_pay": own, "acct_mulaid_pay": aid, "psn_cash_pay": part_fen - own - aid, "balc": own_fen - own}


def family(own_fen: int, aid_fen: int) -> Core:
    core = ledger_of(LedgerApp(settings_for("memory://"), catalogue=CATALOGUE))
    wuhan_family(Ledger(core.app), format_fen(own_fen) if own_fen else None, format_fen(aid_fen) if aid_fen else None)
    return core


def as_numbers(text: str) -> str:
    """The same line with every amount a JSON number (12.30, not "12.30")."""
    return AMOUNT.sub(r'"\1": \2', text)


@settings(max_examples=40, deadline=None)
@given(
    own_fen=st.integers(0, 80_000),
    aid_fen=st.integers(0, 80_000),
    part_fen=st.integers(1, 200_000),
    off=st.sampled_from(["acct_pay", "acct_mulaid_pay", "psn_cash_pay", "balc"]),
    delta_fen=st.integers(1, 99_999),
    numbers=st.booleans(),
)
def test_a_record_agrees_exactly_when_it_carries_the_ledgers_figures(
    own_fen, aid_fen, part_fen, off, delta_fen, numbers
):
    expected = agreed(own_fen, aid_fen, part_fen)
    figures = {name: format_fen(fen) for name, fen in expected.items()}
    medfee = format_fen(part_fen + 18_000)
    info = setlinfo(psn_part_amt=format_fen(part_fen), medfee_sumamt=medfee, **figures)
    body = line_2207(data_2207(medfee_sumamt=medfee), info)
    claimed = line_2207(data_2207(medfee_sumamt=medfee), info | {off: format_fen(expected[off] + delta_fen)})
    texts = [json.dumps(body), json.dumps(claimed)]
    if numbers:
        texts = [as_numbers(text) for text in texts]
        assert '"acct_pay": "' not in texts[0]
    core = family(own_fen, aid_fen)
    try:
        first, second = core.national.import_lines(texts)
        assert first["ok"] and first["discrepancies"] == [], first
        assert second["ok"] and second["duplicate"] is True, second  # the same settlement, other figures
        assert second["discrepancies"] == [
            {"field": off, "ledger": format_fen(expected[off]), "platform": format_fen(expected[off] + delta_fen)}
        ]
    finally:
        core.close()
