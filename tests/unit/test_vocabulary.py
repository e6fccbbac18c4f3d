"""Every code the ledger can show has a bilingual label (infra/pages/vocabulary.py), checked
against where the codes are defined: the Literal vocabularies of domain/vocabulary.py, the error
codes of domain/errors.py and of every LedgerError class, the rule-set fields and the rule names
the decisions cite, the event classes, the command table, the views, the bundle checks and the
chain's problem kinds. A code added there without a label fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_args

import pytest

import infra.access.keys
import infra.audit.bundle
import infra.audit.evidence_store
import infra.core.evidence_service
import infra.readmodels.live_views
from domain import errors, events
from domain import vocabulary as v
from domain.rules.model import BindingRules, MutualAidRules, SpendingRules
from infra.audit.report import UNSPECIFIED
from infra.commands.table import COMMAND_TYPES
from infra.http_statuses import STATUS_OF_CODE
from infra.pages.vocabulary import EVENT, VOCABULARIES, term
from infra.roles import ROLES
from projections.registry import NAMES

ROOT = Path(__file__).resolve().parents[2]
# imported for their LedgerError classes, whose codes the pages show too
MODULES_WITH_CODES = [infra.access.keys, infra.audit.bundle, infra.audit.evidence_store, infra.core.evidence_service]
MODULES_WITH_CODES.append(infra.readmodels.live_views)


def literal(*types: object) -> set[str]:
    return {value for t in types for value in get_args(t)}


def ledger_error_codes() -> set[str]:
    found: set[str] = set()
    todo: list[type[errors.LedgerError]] = [errors.LedgerError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found


def rule_names() -> set[str]:
    """Rule-set fields, and every rule name a decision in domain/ cites as a string literal."""
    fields = {f"{prefix}.{name}" for prefix, model in (("binding", BindingRules), ("mutual_aid", MutualAidRules),
              ("spending", SpendingRules)) for name in model.model_fields}  # fmt: skip
    cited = re.compile(r'"((?:binding|mutual_aid|spending)\.[a-z_]+)[".]')
    for path in (ROOT / "domain").rglob("*.py"):
        fields |= set(cited.findall(path.read_text()))
    return fields


def names_in(path: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, (ROOT / path).read_text()))


DEFINED: dict[str, set[str]] = {
    "status": literal(v.Status),
    "insurance": literal(v.Insurance),
    "relationship": literal(v.BindingRelationship, v.AidRelationship, v.RelationshipKind),
    "role": literal(v.BindingRole, v.AidRole) | {"patient"},  # a deduction's own account: the replay's role
    "initiator": literal(v.Initiator, v.UnbindInitiator, v.RevokeInitiator),
    "key_role": set(ROLES),
    "category": literal(v.Category),
    "credit_source": literal(v.CreditSource),
    "channel": literal(v.Channel) | {UNSPECIFIED},
    "verification": literal(v.Verification),
    "unbind_reason": literal(v.UnbindReason),
    "end_reason": literal(v.AuthorizationEndReason),
    "spending_order": literal(v.SpendingOrder),
    "code": set(errors.ALL_CODES) | ledger_error_codes() | set(STATUS_OF_CODE),
    "rule": rule_names(),
    "command": set(COMMAND_TYPES),
    "event": {name for name, cls in inspect.getmembers(events, inspect.isclass) if issubclass(cls, events.DomainEvent)}
    - {"DomainEvent", "CreatedEvent"},
    "view": set(NAMES),
    "check": names_in("infra/audit/bundle_check.py", r'checks\.add\(\s*"([a-z_]+)"'),
    "problem": names_in("infra/audit/chain_verification.py", r'"kind": "([a-z_]+)"')
    | names_in("infra/audit/event_mac_check.py", r'"kind": "([a-z_]+)"')
    | names_in("infra/eventstore/snapshot_check.py", r'"kind": "([a-z_]+)"')
    | names_in("infra/access/key_log.py", r'ChainCheck\("([a-z_]+)"')
    | {"access_log", "key_log"},  # the two log chains' names (infra.access.access_chain, key_log)
}


@pytest.mark.parametrize("kind", sorted(DEFINED))
def test_every_code_of_each_vocabulary_has_an_english_and_a_chinese_label(kind):
    assert DEFINED[kind], f"found no {kind} codes: the test lost track of where they are defined"
    missing = sorted(code for code in DEFINED[kind] if code not in VOCABULARIES[kind])
    assert not missing, f"{kind}: no label for {missing} (add them to infra/pages/vocabulary.py)"
    for code in DEFINED[kind]:
        label = term(kind, code)
        assert label.en and label.zh and label.en != code, (kind, code, label)
        assert re.search(r"[\u4e00-\u9fff]", label.zh), (kind, code)


def test_the_vocabularies_are_the_ones_the_test_knows():
    assert set(VOCABULARIES) == set(DEFINED)


def test_every_event_type_has_a_one_line_description_of_its_own():
    for name in DEFINED["event"]:
        en, _, description = EVENT[name]
        assert description and "\n" not in description and name not in description and description != en


def test_a_relationship_cap_is_labelled_by_its_relationship():
    for kind in get_args(v.RelationshipKind):
        label = term("rule", f"binding.members_by_kind_max.{kind}")
        assert label.en.startswith("Members by relationship: ") and term("relationship", kind).zh in label.zh


def test_an_unknown_code_is_shown_as_itself_and_an_unknown_vocabulary_is_a_programmer_error():
    assert term("code", "SOMETHING_NEW").label == "SOMETHING_NEW"
    with pytest.raises(KeyError):
        term("no such vocabulary", "x")
