"""Versioned rule sets: data with an effective date and a region scope."""

from domain.rules.catalogue import Catalogue, CatalogueError, parse_catalogue
from domain.rules.model import BindingRules, MutualAidRules, RuleSet, SpendingRules

__all__ = [
    "BindingRules",
    "Catalogue",
    "CatalogueError",
    "MutualAidRules",
    "RuleSet",
    "SpendingRules",
    "parse_catalogue",
]
