"""`ledger demo`: one Beijing family's month, told through the ledger's own commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domain.ids import check_character
from domain.masking import mask
from domain.money import format_fen
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.eventstore import person_reads
from infra.settings import DEVELOPMENT_KEY, Settings, warn_development_key


def _id(region: str, birth: str, seq: int) -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_character(first17)


GRANDPA = _id("110105", "19500512", 13)  # retired employee, large balance
FATHER = _id("110105", "19800101", 11)
MOTHER = _id("110105", "19820303", 24)
CHILD = _id("110105", "20160601", 22)  # 8 years old, resident-insured
UNCLE = _id("420102", "19780808", 15)  # lives in Wuhan, Hubei

NAMES = {GRANDPA: "Grandpa", FATHER: "Father", MOTHER: "Mother", CHILD: "Child", UNCLE: "Uncle (Hubei)"}
NAMES_BY_MASK = {mask(number): name for number, name in NAMES.items()}


def _t(day: int, hour: int = 9) -> str:
    return f"2025-03-{day:02d}T{hour:02d}:00:00+08:00"


STORY: list[tuple[str, dict]] = [
    ("The family enrolls (ID numbers are stored only as keyed pseudonyms)", {}),
    ("", {"type": "enroll", "person": GRANDPA, "insurance": "employee", "at": _t(1)}),
    ("", {"type": "enroll", "person": FATHER, "insurance": "employee", "at": _t(1)}),
    ("", {"type": "enroll", "person": MOTHER, "insurance": "employee", "at": _t(1)}),
    ("", {"type": "enroll", "person": CHILD, "insurance": "resident", "at": _t(1)}),
    ("", {"type": "enroll", "person": UNCLE, "insurance": "employee", "at": _t(1)}),
    ("Monthly contributions reach the personal accounts", {}),
    ("", {"type": "credit", "person": GRANDPA, "amount": "3200.00", "source": "monthly_contribution", "at": _t(2)}),
    ("", {"type": "credit", "person": FATHER, "amount": "500.00", "source": "monthly_contribution", "at": _t(2)}),
    ("", {"type": "credit", "person": MOTHER, "amount": "800.00", "source": "monthly_contribution", "at": _t(2)}),
    ("Family-account bindings (亲情账户): who may present whose e-voucher", {}),
    (
        "",
        {
            "type": "bind",
            "binder": FATHER,
            "member": CHILD,
            "relationship": "child",
            "channel": "alipay",
            "verification": "documents",
            "at": _t(3),
        },
    ),
    (
        "",
        {
            "type": "bind",
            "binder": MOTHER,
            "member": CHILD,
            "relationship": "child",
            "channel": "nhsa_app",
            "verification": "documents",
            "at": _t(3, 10),
        },
    ),
    (
        "",
        {
            "type": "bind",
            "binder": FATHER,
            "member": GRANDPA,
            "relationship": "parent",
            "channel": "wechat",
            "verification": "face",
            "at": _t(3, 11),
        },
    ),
    ('Refused binds are recorded too, with the rule that refused them ("why can\'t I bind?")', {}),
    (
        "",
        {
            "type": "bind",
            "binder": UNCLE,
            "member": CHILD,
            "relationship": "other",
            "channel": "counter",
            "verification": "counter",
            "at": _t(4),
        },
    ),
    (
        "",
        {
            "type": "bind",
            "binder": FATHER,
            "member": MOTHER,
            "relationship": "spouse",
            "channel": "alipay",
            "verification": "documents",
            "at": _t(4, 10),
        },
    ),
    ("Mutual-aid authorizations (家庭共济): a binding alone never moves money", {}),
    ("", {"type": "authorize", "authorizer": FATHER, "beneficiary": CHILD, "relationship": "child", "at": _t(5)}),
    ("", {"type": "authorize", "authorizer": MOTHER, "beneficiary": CHILD, "relationship": "child", "at": _t(5, 10)}),
    (
        "",
        {
            "type": "authorize",
            "authorizer": GRANDPA,
            "beneficiary": CHILD,
            "relationship": "grandchild",
            "at": _t(5, 11),
        },
    ),
    ("", {"type": "authorize", "authorizer": UNCLE, "beneficiary": CHILD, "relationship": "child", "at": _t(5, 12)}),
    ("Grandpa buys medicine; the pharmacy later disputes a duplicate charge, corrected by a reversal", {}),
    (
        "",
        {
            "type": "deduct",
            "settlement_id": "BJ-2025-0315-001201",
            "patient": GRANDPA,
            "amount": "150.00",
            "category": "pharmacy",
            "institution": "Tongrentang Pharmacy",
            "presented_by": FATHER,
            "at": _t(7),
        },
    ),
    (
        "",
        {
            "type": "reverse",
            "settlement_id": "BJ-2025-0315-001201",
            "reason": "duplicate charge confirmed by pharmacy",
            "at": _t(8),
        },
    ),
    ("The child is treated in hospital; Father presents her e-voucher", {}),
    (
        "",
        {
            "type": "deduct",
            "settlement_id": "BJ-2025-0310-000417",
            "patient": CHILD,
            "amount": "4300.00",
            "category": "hospital_self_pay",
            "institution": "Beijing Children's Hospital",
            "presented_by": FATHER,
            "at": _t(10),
        },
    ),
    ("The hospital's system resubmits the same settlement: no money moves twice", {}),
    (
        "",
        {
            "type": "deduct",
            "settlement_id": "BJ-2025-0310-000417",
            "patient": CHILD,
            "amount": "4300.00",
            "category": "hospital_self_pay",
            "institution": "Beijing Children's Hospital",
            "presented_by": FATHER,
            "at": _t(10, 12),
        },
    ),
    ("A wellness purchase cannot be paid from personal accounts", {}),
    (
        "",
        {
            "type": "deduct",
            "settlement_id": "BJ-2025-0312-000092",
            "patient": GRANDPA,
            "amount": "88.00",
            "category": "wellness",
            "institution": "Health Store",
            "at": _t(12),
        },
    ),
]


def _describe(command: dict, result: dict) -> str:
    names = [NAMES[v] for v in command.values() if v in NAMES]
    who = " → ".join(names)
    kind = command["type"]
    if not result["ok"]:
        error = result["error"]
        rule = f" (rule {error['rule']} of {error['rule_version']})" if error.get("rule_version") else ""
        return f"[red]✗ {kind} {who}[/] → [bold]{error['code']}[/]: {error['message']}{rule}"
    if kind == "deduct":
        paid = (
            ", ".join(
                f"{NAMES_BY_MASK[line['person']]} {format_fen(line['amount_fen'], grouped=True)}"
                for line in result["lines"]
            )
            or "nothing"
        )
        dup = " [yellow](duplicate: original result returned)[/]" if result["duplicate"] else ""
        return (
            f"[green]✓ deduct[/] {format_fen(result['amount_fen'], grouped=True)} yuan for {names[0]}: paid by {paid}; "
            f"out of pocket {format_fen(result['out_of_pocket_fen'], grouped=True)} under {result['rule_version']}{dup}"
        )
    if kind == "reverse":
        refunded = format_fen(result["refunded_fen"], grouped=True)
        return f"[green]✓ reverse[/] refunded {refunded} yuan to the accounts that paid"
    return f"[green]✓ {kind}[/] {who}" + (f" under {result['rule_version']}" if "rule_version" in result else "")


Narration = tuple[
    str, Any
]  # ("title", text) | ("heading", text) | ("step", text) | ("table", (title, rows)) | ("text", text)


def run_demo(db: str) -> Iterator[Narration]:
    """Tell the story on a fresh SQLite file at `db`, each step through the ledger's own commands;
    what to show, in order (the CLI renders it)."""
    path = Path(db)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    settings = Settings(db=str(path), pseudonym_key=DEVELOPMENT_KEY, using_development_key=True)
    warn_development_key(settings)
    ledger = open_ledger(settings)
    try:
        yield "title", f"Family-account ledger demo — SQLite file {path}"
        for title, command in STORY:
            if not command:
                yield "heading", title
                continue
            yield "step", _describe(command, ledger.commands.apply_line(json.dumps(command)))
        yield "heading", "Where the family stands"
        yield "table", ("Balances (yuan) and ties", [_standing(ledger, raw, name) for raw, name in NAMES.items()])
        members = person_reads.bindings_view(ledger.reads.by_id_number(FATHER))["members"]
        yield "table", ("Members Father may present", members)
        yield (
            "text",
            (
                f"\nEverything above is now immutable history in {path}. Try (the command is .venv/bin/ledger):\n"
                f"  ledger --db {path} bindings {FATHER}\n"
                f"  ledger --db {path} audit deduction BJ-2025-0310-000417 --html dispute.html\n"
                f"  ledger --db {path} history {FATHER}\n"
                f"  ledger --db {path} seal && ledger --db {path} verify"
            ),
        )
    finally:
        ledger.close()


def _standing(ledger: Ledger, raw: str, name: str) -> dict[str, str]:
    person = ledger.reads.by_id_number(raw)
    ties = f"{len(person.members)}/{len(person.binders)}/{len(person.authorizers)}"
    balance = format_fen(person.balance_fen, grouped=True)
    return {"who": name, "person": person.masked, "status": person.status,
            "balance (yuan)": balance, "binds/bound by/aided by": ties}  # fmt: skip
