"""The rule-set settings for the national platform's records (`RuleSet.national`): defaults, the
shipped files, variants, bad files, and a digest that stays as recorded while they hold defaults."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from domain.rules import CatalogueError, parse_catalogue
from domain.rules.model import NationalRules, RuleSet, rule_digest
from infra.eventstore.rule_files import load_catalogue


def shipped_files() -> dict[str, str]:
    root = resources.files("domain.rules") / "catalogue"
    return {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".toml")}


def test_defaults_report_acct_pay_without_mutual_aid_and_map_med_type_41_to_pharmacy():
    rules = NationalRules()
    assert rules.acct_pay_includes_mutual_aid is False
    assert rules.category_of("41") == "pharmacy"
    assert rules.category_of("11") == rules.category_of("21") == "hospital_self_pay"


def test_every_shipped_rule_set_holds_the_defaults():
    catalogue = load_catalogue()
    for versions in catalogue.bases.values():
        for rule_set in versions:
            assert rule_set.national == NationalRules(), rule_set.version


def test_the_content_and_digest_leave_out_the_national_section_while_it_holds_its_defaults():
    rules = load_catalogue().get("national-2024-12-09")
    content = rules.model_dump(mode="json")
    assert "national" not in content and rules.digest == rule_digest(content)
    assert RuleSet.model_validate_json(json.dumps(content)) == rules  # as an evidence bundle reads it back


def test_a_variant_that_changes_the_convention_resolves_and_changes_the_digest():
    files = dict(shipped_files())
    files["guangdong.toml"] = (
        'kind = "variant"\nname = "guangdong"\nbase = "national"\neffective_from = 2021-08-01\n'
        'regions = ["44"]\n\n[national]\nacct_pay_includes_mutual_aid = true\n\n'
        '[national.category_by_med_type]\n"14" = "pharmacy"\n'
    )
    catalogue = parse_catalogue(files)
    base = catalogue.get("national-2024-12-09")
    variant = catalogue.get("guangdong+national-2024-12-09")
    assert variant.national.acct_pay_includes_mutual_aid is True
    assert variant.national.category_of("14") == variant.national.category_of("41") == "pharmacy"
    assert variant.model_dump(mode="json")["national"]["acct_pay_includes_mutual_aid"] is True
    assert variant.digest != RuleSet.model_validate({**variant.model_dump(), "national": base.national}).digest


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ('[national]\ncategory_default = "groceries"\n', "national.category_default"),
        ('[national.category_by_med_type]\n"4-1" = "pharmacy"\n', "national.category_by_med_type"),
        ('[national]\nacct_pay_includes_mutual_aid = "maybe"\n', "national.acct_pay_includes_mutual_aid"),
        ("[national]\nreport_cash = true\n", "national.report_cash"),
    ],
)
def test_a_bad_national_section_is_refused_naming_the_file_and_field(section, where):
    variant = f'kind = "variant"\nname = "bad"\nbase = "national"\neffective_from = 2021-08-01\n{section}'
    with pytest.raises(CatalogueError, match=where.replace(".", r"\.")) as caught:
        parse_catalogue(shipped_files() | {"bad.toml": variant})
    assert "bad.toml" in str(caught.value)
