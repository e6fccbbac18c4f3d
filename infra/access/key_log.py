"""The key log's hash chain, and what it proves about the keys table.

The key log (`ledger_api_key_log`) records every key's creation (with the whole key row as
`content`), revocation (its `revoked_at`), adoption (a key made before key rows carried a MAC,
taken on by an operator holding the ledger's key) and use. It is a hash chain of MAC'd entries
(infra.access.log_chain) whose head every signed checkpoint of the events carries, with the digest
of the keys table the log implies at that head. So the keys table is derived evidence: a row the
log does not explain (minted by SQL), a row missing, or a row changed is a problem for `verify`,
beside each row's own MAC (infra.access.keys), which alone decides whether a key authenticates.

    entry_sha256 = SHA-256("family-ledger/key-log/v1\\n" || previous_sha256
                           || canonical JSON of {sequence, at, key_id, action, detail, content})
    keys_sha256  = SHA-256(canonical JSON of the implied key rows, ordered by key_id)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from domain.canonical import canonical_json
from infra.access.log_chain import ChainCheck, LogChain
from infra.row_macs import RowMacs

ENTRY_CONTEXT = b"family-ledger/key-log/v1\n"
ENTRY_FIELDS = ("sequence", "at", "key_id", "action", "detail", "content")
KEY_COLUMNS = (
    "key_id", "token_sha256", "role", "channel", "institution", "region", "name", "created_at", "expires_at",
    "revoked_at",
)  # fmt: skip
ROW_ACTIONS = ("created", "adopted")  # entries whose content is a whole key row


def key_log_chain(pseudonym_key: bytes) -> LogChain:
    return LogChain("key_log", ENTRY_CONTEXT, ENTRY_FIELDS, RowMacs(pseudonym_key, "key-log"))


def row_content(row: dict[str, Any]) -> dict[str, Any]:
    """A key row as the log records it and its MAC covers (every column but the MAC)."""
    return {name: row.get(name) for name in KEY_COLUMNS}


def implied_keys(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The key rows the log's entries imply, by key id: created or adopted with their content,
    revoked at the time their revocation says."""
    keys: dict[str, dict[str, Any]] = {}
    for entry in entries:
        content = _content(entry.get("content"))
        if entry["action"] in ROW_ACTIONS:
            keys[entry["key_id"]] = row_content(content)
        elif entry["action"] == "revoked" and entry["key_id"] in keys:
            keys[entry["key_id"]]["revoked_at"] = content.get("revoked_at")
    return keys


def _content(text: str | None) -> dict[str, Any]:
    """An entry's content; text that is not a JSON object (written by SQL, and so already a
    problem of the chain) reads as empty."""
    try:
        content = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def keys_digest(keys: dict[str, dict[str, Any]]) -> str:
    return hashlib.sha256(canonical_json([keys[key_id] for key_id in sorted(keys)])).hexdigest()


def check_keys(
    rows: list[dict[str, Any]], entries: list[dict[str, Any]], row_macs: RowMacs, sealed: tuple[int, str] | None
) -> ChainCheck:
    """Every key row's MAC, the table against the rows the log implies, and the implied rows'
    digest at the sealed head (`sealed`: (key log sequence, keys_sha256) of the last checkpoint)."""
    check = ChainCheck("keys", entries=len(rows))
    implied = implied_keys(entries)
    for row in rows:
        key_id = row["key_id"]
        if row.get("row_mac") is None:
            check.add(f"key {key_id}: no MAC, so it authenticates nothing (a key made before key rows carried one "
                      "can be taken on with `ledger keys adopt`; else it was written by SQL)")  # fmt: skip
        elif not row_macs.holds(row_content(row), row["row_mac"]):
            check.add(f"key {key_id}: its MAC does not verify (changed or written by SQL): it authenticates nothing")
        if key_id not in implied:
            check.add(f"key {key_id}: not in the key log (minted outside the ledger)")
        elif implied[key_id] != row_content(row):
            check.add(f"key {key_id}: differs from what the key log records")
    for key_id in sorted(set(implied) - {row["key_id"] for row in rows}):
        check.add(f"key {key_id}: in the key log, missing from the keys table (a key row was deleted)")
    if sealed is not None and sealed[1] != keys_digest(implied_keys(entries[: sealed[0]])):
        check.add("the keys the log implies at the last checkpoint are not the ones it sealed")
    return check
