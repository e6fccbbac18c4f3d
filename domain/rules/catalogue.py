"""The catalogue: rule-set files, validated at load, chosen by date and region.

A file is either a *base* rule set (complete, with its own effective date) or a *variant*
(`base = "FAMILY"` plus overrides). A variant is resolved against the base family's version in
force on the decision date, and records the composite version `VARIANT+BASEVERSION`, so an
auditor can always rebuild the exact rules a decision was made under.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from domain.errors import UnknownRuleVersionError
from domain.rules.model import RuleSet


class CatalogueError(ValueError):
    """A rule-set file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class _Variant:
    name: str
    base_family: str
    effective_from: date
    regions: tuple[str, ...]
    description: str
    overrides: dict[str, Any]
    source: str = ""  # the file it came from, for error messages


@dataclass
class Catalogue:
    bases: dict[str, list[RuleSet]] = field(default_factory=dict)  # family -> by effective date
    variants: dict[str, _Variant] = field(default_factory=dict)
    # (variant, base version) -> the variant's rule set over that base: built once, so that its
    # digest (a cached property) is worked out once too, not for every decision.
    _resolved: dict[tuple[str, str], tuple[_Variant, RuleSet]] = field(default_factory=dict, repr=False, compare=False)

    # --- lookup by version ------------------------------------------------------------
    def get(self, version: str) -> RuleSet:
        """The rule set a recorded version names (`national-2024-12-09`, `hubei+national-...`)."""
        if "+" in version:
            variant_name, base_version = version.split("+", 1)
            variant = self.variants.get(variant_name)
            if variant is None:
                raise UnknownRuleVersionError(f"rules: unknown rule variant {variant_name!r}", field="rules")
            return self._over(variant, self.get(base_version))
        for versions in self.bases.values():
            for rule_set in versions:
                if rule_set.version == version:
                    return rule_set
        raise UnknownRuleVersionError(f"rules: unknown rule version {version!r}", field="rules")

    def _over(self, variant: _Variant, base: RuleSet) -> RuleSet:
        """The variant's rule set over `base`, built once per (variant, base version); a variant
        replaced under its name is built anew."""
        key = (variant.name, base.version)
        known = self._resolved.get(key)
        if known is None or known[0] is not variant:
            known = self._resolved[key] = (variant, _apply_variant(variant, base))
        return known[1]

    def names(self) -> list[str]:
        return sorted([r.version for v in self.bases.values() for r in v] + list(self.variants))

    # --- lookup by date and region ----------------------------------------------------
    def base_in_force(self, family: str, day: date) -> RuleSet:
        candidates = [r for r in self.bases.get(family, []) if r.effective_from <= day]
        if not candidates:
            raise UnknownRuleVersionError(f"rules: no {family!r} rule set in force on {day.isoformat()}", field="rules")
        return candidates[-1]

    def in_force(self, day: date, region: str) -> RuleSet:
        """The rule set in force on `day` for `region`: the longest matching region prefix
        wins, then the latest effective date; ties are broken by name (deterministic)."""
        scored: list[tuple[int, date, str, RuleSet | _Variant]] = []
        for versions in self.bases.values():
            for rule_set in versions:
                depth = rule_set.covers(region)
                if depth is not None and rule_set.effective_from <= day:
                    scored.append((depth, rule_set.effective_from, rule_set.version, rule_set))
        for variant in self.variants.values():
            depths = [len(p) for p in variant.regions if region.startswith(p)]
            if depths and variant.effective_from <= day:
                scored.append((max(depths), variant.effective_from, variant.name, variant))
        if not scored:
            raise UnknownRuleVersionError(
                f"rules: no rule set in force on {day.isoformat()} for region {region}", field="rules"
            )
        best = max(scored, key=lambda s: (s[0], s[1], s[2]))[3]
        if isinstance(best, _Variant):
            return self._over(best, self.base_in_force(best.base_family, day))
        return best

    def named(self, name: str, day: date) -> RuleSet:
        """For what-if use: a variant or family by name, resolved for `day`; or an exact version."""
        if name in self.variants:
            variant = self.variants[name]
            return self._over(variant, self.base_in_force(variant.base_family, day))
        if name in self.bases:
            return self.base_in_force(name, day)
        return self.get(name)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "members_by_kind_max":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _apply_variant(variant: _Variant, base: RuleSet) -> RuleSet:
    data = base.model_dump(mode="python")
    data = _merge(data, variant.overrides)
    data.update(
        version=f"{variant.name}+{base.version}",
        description=variant.description,
        effective_from=base.effective_from,
        regions=variant.regions,
    )
    return RuleSet.model_validate(data, strict=False)


def _parse_file(name: str, text: str, catalogue: Catalogue) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{name}: not valid TOML: {error}") from None
    kind = data.pop("kind", "base")
    family = data.pop("family", None)
    if kind == "variant":
        if not isinstance(data.get("regions", []), list):  # a bare string would become one prefix per digit
            raise CatalogueError(f"{name}: field regions: must be a list of region-code prefixes")
        try:
            variant = _Variant(
                name=data.pop("name"),
                base_family=data.pop("base"),
                effective_from=data.pop("effective_from"),
                regions=tuple(data.pop("regions", ())),
                description=data.pop("description", ""),
                overrides=data,
                source=name,
            )
        except KeyError as missing:
            raise CatalogueError(f"{name}: variant needs field {missing}") from None
        if not isinstance(variant.effective_from, date):
            raise CatalogueError(f"{name}: effective_from must be a TOML date")
        catalogue.variants[variant.name] = variant
        return
    if kind != "base" or not isinstance(family, str):
        raise CatalogueError(f"{name}: needs kind = 'base' with a family, or kind = 'variant'")
    try:
        rule_set = RuleSet.model_validate(data, strict=False)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(f"{name}: field {where}: {first['msg']}") from None
    catalogue.bases.setdefault(family, []).append(rule_set)


def _validate(catalogue: Catalogue) -> None:
    seen: set[str] = set()
    for versions in catalogue.bases.values():
        versions.sort(key=lambda r: r.effective_from)
        for rule_set in versions:
            if rule_set.version in seen or "+" in rule_set.version:
                raise CatalogueError(f"rule version {rule_set.version!r} is duplicated or contains '+'")
            seen.add(rule_set.version)
    for variant in catalogue.variants.values():
        if variant.base_family not in catalogue.bases:
            raise CatalogueError(
                f"{variant.source}: variant {variant.name!r}: field base: unknown base family {variant.base_family!r}"
            )
        for base in catalogue.bases[variant.base_family]:
            try:
                catalogue._over(variant, base)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise CatalogueError(
                    f"{variant.source}: variant {variant.name!r}: field {where}: {first['msg']}"
                ) from None


def parse_catalogue(files: dict[str, str]) -> Catalogue:
    """Build a catalogue from file texts (name -> TOML text). Pure."""
    catalogue = Catalogue()
    for name in sorted(files):
        _parse_file(name, files[name], catalogue)
    _validate(catalogue)
    return catalogue
