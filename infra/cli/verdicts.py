"""What `ledger seal` and `ledger verify` print for people (`--json` prints the core's answer as is):
the event chain, then each other part the verdict covers, then what was compared with
something kept outside the database."""

from __future__ import annotations

from typing import Any

from infra.cli import output

PARTS = (
    ("events", "event MACs"),
    ("access_log", "access log"),
    ("key_log", "key log"),
    ("keys", "keys"),
    ("snapshots", "snapshots"),
)


def print_seal(result: dict[str, Any]) -> None:
    written, last = result["written"], result["checkpoint"]
    if last is None:
        output.console.print("the log is empty: nothing to seal")
        return
    covers = last.get("covers") or {}
    output.console.print(
        f"sealed through position {last['position']} ({len(written)} new checkpoint(s)); covers the access log "
        f"through entry {covers.get('access_log', {}).get('sequence', 0)} and the key log through entry "
        f"{covers.get('key_log', {}).get('sequence', 0)}\nanchor (keep a copy elsewhere): {last['checkpoint_sha256']}",
        highlight=False,
    )


def print_verify(result: dict[str, Any]) -> None:
    if result["checkpoint"] is None:
        if result["problems"]:
            output.console.print(f"[bold red]nothing sealed[/]: {result['problems'][0]['detail']}", highlight=False)
            for problem in result["problems"][1:]:
                output.console.print(f"[bold red]{problem['kind']}[/]: {problem['detail']}", highlight=False)
        else:
            output.console.print(result.get("note", "nothing sealed"))
        return
    checkpoint = result["checkpoint"]
    state = "[green]intact[/]" if result["ok"] else f"[bold red]{result['problem_count']} problem(s)[/]"
    output.console.print(
        f"checked {result['checked']} records through position {checkpoint['position']}: {state}; "
        f"{result['unsealed']} record(s) not sealed yet\nanchor {checkpoint['checkpoint_sha256']}",
        highlight=False,
    )
    if result["problems"]:
        output.console.print(f"first broken position: {result['first_broken_position']}")
        output.console.print(
            output.rows_table(
                "Problems",
                [{"position": p["position"], "kind": p["kind"], "detail": p["detail"]} for p in result["problems"]],
            )
        )
    print_parts(result)
    print_trust(result)


def print_parts(result: dict[str, Any]) -> None:
    """One line per part beside the event chain, and each of its problems."""
    for name, label in PARTS:
        part = result.get(name)
        if part is None:
            continue
        state = "[green]intact[/]" if part["ok"] else "[bold red]NOT intact[/]"
        output.console.print(f"{label}: {_counts(name, part)}: {state}", highlight=False)
        for problem in part["problems"]:
            output.console.print(f"  [bold red]{problem['kind']}[/]: {problem['detail']}", highlight=False)
    if result.get("not_covered"):
        output.console.print(f"[yellow]{result['not_covered']}[/]", highlight=False)


def _counts(name: str, part: dict[str, Any]) -> str:
    if name in ("access_log", "key_log"):
        unmacked = part.get("entries_without_mac") or 0
        return (f"{part['entries']} entries, sealed through {part['sealed_through']}"
                + (f", {unmacked} from before entries carried a MAC" if unmacked else ""))  # fmt: skip
    if name == "keys":
        return f"{part['keys']} key(s)"
    if name == "events":
        legacy = part.get("events_without_mac") or 0
        return f"{part['checked']} checked" + (f", {legacy} from before events carried a MAC" if legacy else "")
    return f"{part['snapshots']} stored"


def print_trust(result: dict[str, Any]) -> None:
    """Say plainly what was compared with something kept outside the evidence, and what was not."""
    signatures = (
        "[green]signatures checked[/] against public key " + result["public_key"][:16] + "…"
        if result["signatures_checked"]
        else "[yellow]signatures not checked (no public key given)[/]"
    )
    anchor = (
        ("[green]anchor found[/]" if result.get("anchor_found") else "[bold red]anchor NOT found[/]")
        if result["anchor_compared"]
        else "[yellow]anchor not compared (no --anchor given)[/]"
    )
    output.console.print(f"{signatures}; {anchor}", highlight=False)
    if result.get("not_detected"):
        output.console.print(f"[yellow]{result['not_detected']}[/]", highlight=False)
    if result.get("development_key"):
        output.console.print(
            "[bold yellow]WARNING: checkpoints signed with the public DEVELOPMENT seal key: "
            "their signatures prove nothing[/]",
            highlight=False,
        )
