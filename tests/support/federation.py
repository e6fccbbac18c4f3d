"""A federation for tests: ledgers on SQLite files or PostgreSQL schemas, and a Hubei
grandparent with a Beijing grandchild, in command lines."""

from __future__ import annotations

from typing import Any

from infra.federation.config import Federation
from infra.federation.ledgers import FederatedLedgers
from infra.federation.routing import route_stream
from tests.support import id_number, line

EARLY = "2025-06-01T09:00:00+08:00"
WHEN = "2026-02-02T09:00:00+08:00"


def sqlite_federation(tmp_path: Any, provinces: tuple[str, ...] = ("11", "42")) -> Federation:
    return Federation(str(tmp_path / "federation.toml"), {p: str(tmp_path / f"ledger-{p}.db") for p in provinces})


def write_file(federation: Federation) -> str:
    """The federation as the TOML file `--federation` reads."""
    body = "[ledgers]\n" + "".join(f'"{p}" = "{db}"\n' for p, db in federation.ledgers.items())
    with open(federation.path, "w", encoding="utf-8") as out:
        out.write(body)
    return federation.path


def grandparent(n: int = 0) -> str:
    return id_number("420102", "19550101", 11 + 2 * n)


def grandchild(n: int = 0) -> str:
    return id_number("110105", "20150601", 20 + 2 * n)


def family_lines(n: int = 0, balance: str = "1000.00", quota: str = "300.00") -> list[str]:
    gp, gc = grandparent(n), grandchild(n)
    return [
        line("enroll", person=gp, insurance="employee", at=EARLY),
        line("credit", person=gp, amount=balance, source="adjustment", at=EARLY),
        line("enroll", person=gc, insurance="resident", at=EARLY),
        line(
            "authorize",
            authorizer=gp,
            beneficiary=gc,
            relationship="grandchild",
            quota=quota,
            at=WHEN,
            command_id=f"auth-{n}",
        ),
    ]


def apply_all(ledgers: FederatedLedgers, lines: list[str], batch_size: int = 100) -> list[dict]:
    answers = list(route_stream(ledgers, lines, batch_size=batch_size, wait_ms=0))
    refused = [a for a in answers if not a["ok"]]
    if refused:
        raise AssertionError(f"refused: {refused[:3]}")
    return answers


def person(ledgers: FederatedLedgers, raw: str) -> Any:
    province = ledgers.home_of_person(raw, "person")
    return ledgers.ledger(province).app.get_person(raw)
