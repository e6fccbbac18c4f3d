"""A federation for tests: ledgers on SQLite files or PostgreSQL schemas, and a Hubei
grandparent with a Beijing grandchild, in command lines."""

from __future__ import annotations

from typing import Any

from infra.federation.ledgers import FederatedLedgers
from infra.federation.routing import route_stream
from infra.provinces.federation_file import Federation
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
    """The n-th Hubei grandparent (400 a birthday, up to 11,200)."""
    return id_number("420102", f"195501{1 + n // 400:02d}", 11 + 2 * (n % 400))


def grandchild(n: int = 0) -> str:
    return id_number("110105", f"201506{1 + n // 400:02d}", 20 + 2 * (n % 400))


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


def pg_federation(
    base_url: str, path: str, schemas: tuple[str, ...], provinces: tuple[str, ...] = ("11", "42")
) -> Federation:
    separator = "&" if "?" in base_url else "?"
    return Federation(path, {p: f"{base_url}{separator}schema={s}" for p, s in zip(provinces, schemas, strict=True)})


def workload(families: int, deductions: int = 4) -> tuple[list[str], list[str]]:
    """(the ties: enrolments, credits and earmarks; then what draws on them: deductions, some
    reversed, some ties revoked and some quotas lowered), for `families` Hubei-Beijing families."""
    ties = [text for n in range(families) for text in family_lines(n)]
    later = []
    for n in range(families):
        for k in range(deductions):
            at = f"2026-03-{k + 1:02d}T09:00:00+08:00"
            later.append(
                line(
                    "deduct",
                    settlement_id=f"S-{n}-{k}",
                    patient=grandchild(n),
                    amount=f"{20 + k}.{n % 100:02d}",
                    category="pharmacy",
                    institution="H-1",
                    at=at,
                    command_id=f"d-{n}-{k}",
                )
            )
        if n % 3 == 0:
            later.append(line("reverse", settlement_id=f"S-{n}-0", at="2026-03-20T09:00:00+08:00", command_id=f"r-{n}"))
        if n % 4 == 1:
            later.append(
                line(
                    "set-quota",
                    authorizer=grandparent(n),
                    beneficiary=grandchild(n),
                    quota="150.00",
                    at="2026-03-21T09:00:00+08:00",
                    command_id=f"q-{n}",
                )
            )
        if n % 5 == 2:
            later.append(
                line(
                    "revoke",
                    authorizer=grandparent(n),
                    beneficiary=grandchild(n),
                    at="2026-03-22T09:00:00+08:00",
                    command_id=f"v-{n}",
                )
            )
    return ties, later
