"""Audit commands: replay of recorded decisions, person history, the hash chain and reports.

    ledger audit deduction SETTLEMENT_ID [--json] [--html FILE] [--bundle FILE]
    ledger history ID [--as-of TIME] [--json]
    ledger seal [--json]            ledger seal-key [--generate] [--json]
    ledger verify [--json] [--public-key HEX] [--anchor HASH]       (exit 1 when anything is wrong)
    ledger verify-bundle FILE [--json] [--public-key HEX] [--anchor HASH]   (offline: no database)
    ledger report compliance --month YYYY-MM [--region PREFIX] --format json|csv|html [--out FILE]
    ledger subject-report ID [--format json|html] [--out FILE]    (PIPL art. 45)

This is the only place of the feature that reads the clock (the time a checkpoint is sealed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from infra.audit import signing
from infra.audit.bundle_check import verify_bundle as check_bundle
from infra.audit.history import parse_moment
from infra.audit.report import to_csv
from infra.cli import output
from infra.cli.context import guarded
from infra.cli.verdicts import print_seal, print_trust, print_verify
from infra.eventstore.rule_files import load_catalogue
from infra.federation.audit import audit_across
from infra.federation.bundle_check import is_federation_bundle, verify_federation_bundle
from infra.pages.rendering import render_audit, render_report
from infra.pages.subject_report import render_subject_report
from infra.settings import ConfigError, load_seal_key, load_seal_public_key, warn_development_seal_key


def _write(path: str, data: str | bytes) -> None:
    target = Path(path)
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")
    output.err_console.print(f"wrote {target}", highlight=False)


@click.group()
def audit() -> None:
    """Audit-grade replay of recorded decisions."""


@audit.command("deduction")
@click.argument("settlement_id")
@click.option("--json", "as_json", is_flag=True, help="Print the replay as JSON.")
@click.option("--html", "html_file", default=None, help="Also write a self-contained HTML page to FILE.")
@click.option("--bundle", "bundle_file", default=None, help="Also write an offline evidence bundle to FILE.")
@click.pass_obj
@guarded
def audit_deduction(
    obj: Any, settlement_id: str, as_json: bool, html_file: str | None, bundle_file: str | None
) -> None:
    """Replay a deduction from the event store and compare it with what was recorded.

    Exit status 1 when the recorded split does not match the replay. With --federation: the
    deduction's ledger, and for a draw on a cross-province quota the authorizer's half in theirs."""
    if obj.federation is not None:
        result, data = audit_across(obj.ledgers(), settlement_id, bundle=bundle_file is not None)
        if bundle_file and data is not None:
            _write(bundle_file, data)
        output.emit_json(result) if as_json else _print_audit(result)
        sys.exit(0 if result["verdict"] == "consistent" else 1)
    audits = obj.read_ledger().audits
    if bundle_file:
        data, result = audits.bundle(settlement_id)
        _write(bundle_file, data)
    else:
        result = audits.deduction(settlement_id)
    if html_file:
        _write(html_file, render_audit(result))
    if as_json:
        output.emit_json(result)
    else:
        _print_audit(result)
    if result["verdict"] != "consistent":
        sys.exit(1)  # like verify: a script can act on a mismatch without parsing output


@click.command()
@click.argument("id_number")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Effective time: what was in effect at this moment, as now known (ISO-8601 with offset, or a date in UTC+8).",
)
@click.option(
    "--known-at",
    "known_at",
    default=None,
    help="Recorded time: only what the ledger had recorded by this moment (same formats).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def history(obj: Any, id_number: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """A person's timeline with effective and recorded times, and their state as of a moment
    and as known at a moment (bindings, authorizations, balance)."""
    reads = obj.read_ledger_for(id_number).reads
    moment = parse_moment(as_of, "as_of") if as_of else None
    known = parse_moment(known_at, "known_at") if known_at else None
    person = reads.by_id_number(id_number)  # UNKNOWN_PERSON if not enrolled
    result = reads.history(person.id, moment, known)
    if as_json:
        output.emit_json(result)
    else:
        _print_history(result)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def seal(obj: Any, as_json: bool) -> None:
    """Extend the hash chain to the end of the log and store a signed checkpoint.

    Signs with LEDGER_SEAL_KEY (refused without it on PostgreSQL; the public DEVELOPMENT key on SQLite)."""
    result = obj.ledger().evidence.seal()
    if as_json:
        output.emit_json(result)
    else:
        print_seal(result)


@click.command("seal-key")
@click.option("--generate", is_flag=True, help="Print a new random seal key (64 hex) for LEDGER_SEAL_KEY.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def seal_key(obj: Any, generate: bool, as_json: bool) -> None:
    """Print the public key of the configured seal key (to publish), or --generate a new key."""
    if generate:
        seed = signing.generate_seed()
        if as_json:
            output.emit_json({"seed": seed.hex(), "public_key": signing.public_key_of(seed).hex()})
        else:
            sys.stdout.write(seed.hex() + "\n")
            output.err_console.print(
                "keep this secret (LEDGER_SEAL_KEY); publish the public key that `ledger seal-key` prints with it",
                highlight=False,
            )
        return
    key = load_seal_key(obj.db)
    warn_development_seal_key(key)
    public = signing.public_key_of(key.seed).hex()
    if as_json:
        output.emit_json({"public_key": public})
    else:
        sys.stdout.write(public + "\n")


PUBLIC_KEY_HELP = (
    "The seal key's published public key (64 hex; default LEDGER_SEAL_PUBLIC_KEY): "
    "every checkpoint must be signed by it."
)
ANCHOR_HELP = "A checkpoint hash published earlier (printed by `ledger seal`): the chain must contain it."


@click.command()
@click.option("--public-key", "public_key", default=None, help=PUBLIC_KEY_HELP)
@click.option("--anchor", default=None, help=ANCHOR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def verify(obj: Any, public_key: str | None, anchor: str | None, as_json: bool) -> None:
    """Recompute the hash chain up to the last checkpoint; exit 1 if anything was altered."""
    evidence = obj.read_ledger().evidence
    result = evidence.verify(evidence.public_key(public_key), anchor)
    if as_json:
        output.emit_json(result)
    else:
        print_verify(result)
    sys.exit(0 if result["ok"] else 1)


@click.command("verify-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key", default=None, help=PUBLIC_KEY_HELP)
@click.option("--anchor", default=None, help=ANCHOR_HELP + " It must also cover every event of the bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify_bundle(file: str, public_key: str | None, anchor: str | None, as_json: bool) -> None:
    """Check an evidence bundle offline, with no database; exit 1 if it does not hold."""
    try:
        trusted = load_seal_public_key(public_key)
    except ConfigError as error:
        output.err_console.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(2)
    data = Path(file).read_bytes()
    if is_federation_bundle(data):  # a deduction with the authorizers' halves in other ledgers
        result = verify_federation_bundle(data, load_catalogue(), public_key=trusted, anchor=anchor)
        output.emit_json(result) if as_json else output.console.print(
            output.rows_table("Federation bundle", result["checks"])
        )
        sys.exit(0 if result["ok"] else 1)
    result = check_bundle(data, load_catalogue(), public_key=trusted, anchor=anchor)
    if as_json:
        output.emit_json(result)
    else:
        for check in result["checks"]:
            mark = "[green]ok[/]  " if check["ok"] else "[bold red]FAIL[/]"
            output.console.print(f"{mark} {check['check']}: {check['detail']}", highlight=False)
        output.console.print(
            f"bundle {'holds' if result['ok'] else 'DOES NOT HOLD'}; replay verdict: "
            f"{result['verdict']}; anchor {result['anchor']}",
            highlight=False,
        )
        print_trust(result)
    sys.exit(0 if result["ok"] else 1)


@click.group()
def report() -> None:
    """Reports computed from the event log."""


@report.command("compliance")
@click.option("--month", required=True, help="YYYY-MM (natural month, UTC+8).")
@click.option("--region", default="", help="A prefix of the 6-digit region code, e.g. 42 or 4201.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True)
@click.option("--out", "out", default=None, help="Write to FILE instead of standard output.")
@click.pass_obj
@guarded
def compliance(obj: Any, month: str, region: str, fmt: str, out: str | None) -> None:
    """Bindings, unbinds, rejections, deductions, mutual aid and integrity for one month."""
    result = obj.read_ledger().audits.compliance(month, region)
    text = {
        "json": lambda r: json.dumps(output.annotate(r), ensure_ascii=False, indent=2) + "\n",
        "csv": to_csv,
        "html": render_report,
    }[fmt](result)
    if out:
        _write(out, text)
    else:
        sys.stdout.write(text)


@click.command("subject-report")
@click.argument("id_number")
@click.option("--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True)
@click.option("--out", "out", default=None, help="Write to FILE instead of standard output.")
@click.pass_obj
@guarded
def subject_report(obj: Any, id_number: str, fmt: str, out: str | None) -> None:
    """Everything the ledger holds about one person (PIPL art. 45), with the chain positions that
    prove it complete. The ID number is an argument, never echoed: the report shows it masked."""
    ledger = obj.read_ledger()
    report = ledger.audits.subject_report(ledger.reads.by_id_number(id_number))
    if fmt == "html":
        text = render_subject_report(report)
    else:
        text = json.dumps(output.annotate(report), ensure_ascii=False, indent=2) + "\n"
    if out:
        _write(out, text)
    else:
        sys.stdout.write(text)


def _print_audit(result: dict[str, Any]) -> None:
    colour = "green" if result["verdict"] == "consistent" else "bold red"
    output.console.print(
        f"settlement {result['settlement_id']}: [{colour}]{result['verdict']}[/] under {result['rule_version']}",
        highlight=False,
    )
    for difference in result["differences"]:
        output.console.print(f"  - {difference}", highlight=False)
    output.console.print(
        output.rows_table(
            "Candidates just before the deduction",
            [
                {
                    "rank": c["rank"],
                    "person": c["person"],
                    "balance_before_fen": c["balance_before_fen"],
                    "authorized_at": c["authorized_at"] or "-",
                    "paid_fen": c["paid_fen"],
                }
                for c in result["candidates"]
            ],
        )
    )
    output.console.print(output.rows_table("Recorded lines", result["recorded"]["lines"]))
    output.console.print(output.rows_table("Replayed lines", result["replayed"]["lines"]))
    output.console.print(
        output.rows_table(
            "Evidence",
            [
                {
                    "position": e["position"],
                    "person": e["person"],
                    "type": e["type"],
                    "at": e["at"],
                    "hash": (e["hash"] or "-")[:16],
                    "sealed": e["sealed"],
                }
                for e in result["evidence"]
            ],
        )
    )


def _print_history(result: dict[str, Any]) -> None:
    output.console.print(
        output.rows_table(
            f"History of {result['person']}",
            [
                {
                    "position": t["position"],
                    "at": t["at"],
                    "recorded_at": t["recorded_at"] or "unknown",
                    "type": t["type"],
                    "what": t["text"],
                    "balance_after_fen": t["balance_after_fen"],
                }
                for t in result["timeline"]
                if not (t["after_as_of"] or t["after_known_at"])
            ],
        )
    )
    state = result["state"]
    if state:
        moments = [
            f"as of {result['as_of']}" if result["as_of"] else "",
            f"as known at {result['known_at']}" if result["known_at"] else "",
        ]
        title = "State " + " ".join(m for m in moments if m) if any(moments) else "State now"
        output.console.print(output.key_value_table(title, state))
        for label, rows in (
            ("members bound", state["bindings"]["members"]),
            ("binders", state["bindings"]["binders"]),
            ("authorizers", state["authorizations"]["authorizers"]),
            ("beneficiaries", state["authorizations"]["beneficiaries"]),
        ):
            output.console.print(output.rows_table(label, rows))
