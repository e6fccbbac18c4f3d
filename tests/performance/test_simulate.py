"""The workload generator: deterministic bytes, valid lines, realistic variety."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from domain.ids import parse_id_number
from infra.tools.simulate import simulate
from tests.support import apply_line, parse_command


def digest(lines) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_same_seed_gives_the_same_bytes():
    assert digest(simulate(200, 3, seed=11)) == digest(simulate(200, 3, seed=11))


def test_a_different_seed_gives_a_different_history():
    assert digest(simulate(200, 3, seed=11)) != digest(simulate(200, 3, seed=12))


def test_every_line_parses_and_time_never_goes_backwards():
    lines = list(simulate(300, 4, seed=5))
    commands: list[Any] = [parse_command(line) for line in lines]  # raises on any bad line
    times = [command.at for command in commands]
    assert times == sorted(times)
    assert all(json.loads(line)["at"].endswith("+08:00") for line in lines)


def test_people_have_valid_id_numbers_from_several_provinces():
    lines = [json.loads(line) for line in simulate(400, 1, seed=3)]
    numbers = {line["person"] for line in lines if line["type"] == "enroll"}
    facts = [parse_id_number(number)[1] for number in numbers]
    assert {f.region[:2] for f in facts} == {"11", "14", "34", "42", "44"}
    assert {f.sex for f in facts} == {"male", "female"}
    ages = [2025 - f.birth_date.year for f in facts]
    assert min(ages) < 16 < 60 < max(ages)


def test_the_workload_mixes_every_kind_of_command_and_money_is_decimal_yuan():
    lines = [json.loads(line) for line in simulate(600, 12, seed=1)]
    kinds = Counter(line["type"] for line in lines)
    for kind in (
        "enroll",
        "credit",
        "bind",
        "unbind",
        "authorize",
        "revoke",
        "deduct",
        "reverse",
        "suspend",
        "resume",
        "cancel",
        "expire",
        "transfer",
    ):
        assert kinds[kind] > 0, kind
    amounts = [line["amount"] for line in lines if "amount" in line]
    assert all(isinstance(a, str) and a.count(".") == 1 and len(a.split(".")[1]) == 2 for a in amounts)
    categories = Counter(line["category"] for line in lines if line["type"] == "deduct")
    assert {"pharmacy", "hospital_self_pay", "fitness"} <= set(categories)
    assert any("presented_by" in line for line in lines)
    channels = {line["channel"] for line in lines if line["type"] == "bind"}
    assert channels == {"alipay", "wechat", "nhsa_app", "bank_app", "counter"}


def test_the_traffic_naturally_produces_rejections(app):
    results = [apply_line(app, line) for line in simulate(300, 4, seed=2)]
    codes = Counter(r["error"]["code"] for r in results if not r["ok"])
    ok = sum(r["ok"] for r in results)
    assert ok > 0.75 * len(results)  # mostly accepted, as real traffic is
    assert {"CATEGORY_NOT_ELIGIBLE", "AUTHORIZER_NOT_ELIGIBLE"} <= set(codes)
    assert len(codes) >= 6
