"""The rule catalogue: versions in force by date and region, variants, and bad files."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest

from domain.errors import UnknownRuleVersionError
from domain.rules import CatalogueError, parse_catalogue
from infra.eventstore.rule_files import load_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def shipped_files() -> dict[str, str]:
    root = resources.files("domain.rules") / "catalogue"
    return {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".toml")}


@pytest.mark.parametrize(
    ("day", "version"),
    [
        (date(2021, 8, 1), "national-2021-08-01"),
        (date(2024, 12, 8), "national-2021-08-01"),
        (date(2024, 12, 9), "national-2024-12-09"),
        (date(2026, 1, 8), "national-2024-12-09"),
        (date(2026, 1, 9), "national-2026-01-09"),
    ],
)
def test_national_version_in_force_follows_the_effective_dates(catalogue, day, version):
    assert catalogue.in_force(day, "110105").version == version


def test_no_rule_set_before_mutual_aid_began(catalogue):
    with pytest.raises(UnknownRuleVersionError):
        catalogue.in_force(date(2021, 7, 31), "110105")


@pytest.mark.parametrize(
    ("region", "version"),
    [
        ("340104", "anhui+national-2024-12-09"),
        ("420102", "hubei+national-2024-12-09"),
        ("140105", "shanxi+national-2024-12-09"),
        ("110105", "national-2024-12-09"),
        ("430102", "national-2024-12-09"),  # 43 (Hunan) is not 42 (Hubei)
    ],
)
def test_regional_variant_wins_by_region_prefix_and_composes_with_the_base(catalogue, region, version):
    assert catalogue.in_force(date(2025, 3, 3), region).version == version


def test_variant_keeps_the_base_it_does_not_override(catalogue):
    anhui = catalogue.in_force(date(2025, 3, 3), "340104")
    national = catalogue.in_force(date(2025, 3, 3), "110105")
    assert anhui.binding.rebind_wait_minutes == 5
    assert national.binding.rebind_wait_minutes == 0
    assert anhui.binding.model_copy(update={"rebind_wait_minutes": 0}) == national.binding
    assert anhui.mutual_aid == national.mutual_aid


def test_variant_follows_the_base_version_in_force_on_the_day(catalogue):
    before = catalogue.in_force(date(2024, 12, 8), "340104")
    after = catalogue.in_force(date(2026, 1, 9), "340104")
    assert before.version == "anhui+national-2021-08-01"
    assert after.version == "anhui+national-2026-01-09"
    assert after.mutual_aid.cross_province and not before.mutual_aid.cross_province


def test_what_if_variants_are_not_in_force_anywhere_but_resolve_by_name(catalogue):
    seed3 = catalogue.named("seed-003", date(2025, 3, 3))
    assert seed3.version == "seed-003+national-2024-12-09"
    assert dict(seed3.binding.members_by_kind_max) == {"father": 1, "mother": 1, "spouse": 1, "child": 3}
    assert seed3.binding.members_active_max == 6
    assert catalogue.named("seed-002", date(2025, 3, 3)).binding.binders_active_max == 6
    assert catalogue.named("seed-000", date(2025, 3, 3)).binding.exclusive is True
    assert catalogue.in_force(date(2025, 3, 3), "110105").binding.exclusive is False


def test_a_variant_over_one_base_is_built_once_so_its_digest_is_worked_out_once(catalogue):
    """Every decision records its rule set's digest: the variant in force on two days of one
    base version, by date or by name or by its recorded version, is one object."""
    first = catalogue.in_force(date(2025, 3, 3), "340104")
    assert catalogue.in_force(date(2025, 9, 30), "340105") is first
    assert catalogue.get(first.version) is first
    assert catalogue.named("anhui", date(2025, 3, 3)) is first
    assert catalogue.in_force(date(2026, 1, 9), "340104") is not first  # another base version
    assert first.digest is first.digest


def test_recorded_composite_version_resolves_to_the_same_rules(catalogue):
    live = catalogue.in_force(date(2025, 3, 3), "420102")
    assert catalogue.get(live.version) == live
    with pytest.raises(UnknownRuleVersionError):
        catalogue.get("nowhere+national-2024-12-09")
    with pytest.raises(UnknownRuleVersionError):
        catalogue.get("national-1999-01-01")


def test_national_defaults_match_the_issue(catalogue):
    rules = catalogue.in_force(date(2025, 3, 3), "110105")
    b, m, s = rules.binding, rules.mutual_aid, rules.spending
    assert (b.members_active_max, b.members_new_per_month_max, b.binders_new_per_month_max) == (5, 5, 2)
    assert b.binders_active_max is None
    assert set(b.relationships) == {"parent", "child", "spouse", "other"}
    assert b.face_verification_age_min == 16
    assert m.authorizer_insurance == ("employee",)
    assert set(s.eligible_categories) == {"hospital_self_pay", "pharmacy", "resident_premium"}
    assert s.own_account_first and s.order == "largest_balance_first"


def test_malformed_toml_is_a_catalogue_error_naming_the_file():
    files = shipped_files() | {"broken.toml": "kind = 'base'\nfamily = \n"}
    with pytest.raises(CatalogueError, match=r"broken\.toml"):
        parse_catalogue(files)


def test_bad_field_in_a_base_file_names_file_and_field():
    text = shipped_files()["national-2021-08-01.toml"].replace("members_active_max = 5", 'members_active_max = "five"')
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(shipped_files() | {"national-2021-08-01.toml": text})
    assert "national-2021-08-01.toml" in str(caught.value)
    assert "binding.members_active_max" in str(caught.value)


def test_unknown_field_in_a_base_file_names_file_and_field():
    text = shipped_files()["national-2024-12-09.toml"].replace("[spending]", "[spending]\nspeed = 3")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(shipped_files() | {"national-2024-12-09.toml": text})
    assert "national-2024-12-09.toml" in str(caught.value)
    assert "spending.speed" in str(caught.value)


def test_bad_field_in_a_variant_file_names_file_and_field():
    text = shipped_files()["anhui.toml"].replace("rebind_wait_minutes = 5", "rebind_wait_minutes = -5")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(shipped_files() | {"anhui.toml": text})
    assert "anhui.toml" in str(caught.value)
    assert "binding.rebind_wait_minutes" in str(caught.value)


def test_variant_missing_a_required_field_names_file_and_field():
    text = shipped_files()["hubei.toml"].replace('base = "national"\n', "")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(shipped_files() | {"hubei.toml": text})
    assert "hubei.toml" in str(caught.value) and "base" in str(caught.value)


def test_variant_of_an_unknown_family_is_refused():
    text = shipped_files()["hubei.toml"].replace('base = "national"', 'base = "martian"')
    with pytest.raises(CatalogueError, match="martian"):
        parse_catalogue(shipped_files() | {"hubei.toml": text})


def test_region_scope_must_be_digit_prefixes():
    text = shipped_files()["national-2021-08-01.toml"].replace('regions = [""]', 'regions = ["1x"]')
    with pytest.raises(CatalogueError, match="regions"):
        parse_catalogue(shipped_files() | {"national-2021-08-01.toml": text})


def test_variant_regions_given_as_a_bare_string_is_refused_not_split_into_digits():
    text = shipped_files()["anhui.toml"].replace('regions = ["34"]', 'regions = "34"')
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(shipped_files() | {"anhui.toml": text})
    assert "anhui.toml" in str(caught.value) and "regions" in str(caught.value)
