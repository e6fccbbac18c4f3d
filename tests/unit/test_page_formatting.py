"""The page formatters (infra/pages/formatting.py): money with thousands separators, moments in
UTC+8 with their offset and UTC on hover, codes as bilingual labels with the code beside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from domain.money import format_fen, parse_yuan
from infra.pages.formatting import shown, term, when, yuan


def test_money_is_shown_with_thousands_separators_and_stays_readable_back_without_them():
    assert yuan(430000) == "¥4,300.00"
    assert yuan(123456789) == "¥1,234,567.89"
    assert yuan(5) == "¥0.05" and yuan(-150000) == "¥-1,500.00" and yuan(None) == "—"
    assert format_fen(123456789, grouped=True) == "1,234,567.89"
    assert format_fen(123456789) == "1234567.89" and parse_yuan(format_fen(123456789)) == 123456789


def test_a_moment_is_shown_in_utc_plus_8_with_its_offset_and_utc_on_hover():
    shown_utc = when("2025-03-31T17:00:00Z")  # a seal or an access-log entry, stored in UTC
    assert "<span>2025-04-01</span> <span>01:00:00 +08:00</span>" in shown_utc
    assert 'datetime="2025-03-31T17:00:00Z"' in shown_utc and 'title="UTC 2025-03-31T17:00:00Z"' in shown_utc
    recorded = when("2025-03-05T09:00:00.123456+08:00")  # a recorded time, to the microsecond
    assert "09:00:00 +08:00" in recorded and 'title="UTC 2025-03-05T01:00:00.123456Z"' in recorded
    other_offset = when(datetime(2025, 3, 5, 1, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert "<span>2025-03-05</span> <span>14:00:00 +08:00</span>" in other_offset
    assert when(datetime(2025, 3, 5, tzinfo=UTC)) == when("2025-03-05T08:00:00+08:00")


def test_a_moment_without_an_offset_or_not_a_moment_is_shown_as_it_came_escaped():
    assert when("2025-03-05T09:00:00") == "2025-03-05T09:00:00"
    assert when("<b>") == "&lt;b&gt;" and when(None) == "—" and when("") == "—"
    assert when("0001-01-01T00:00:00+01:00") == "0001-01-01T00:00:00+01:00"  # no UTC for it


def test_a_code_is_shown_as_its_label_with_the_code_in_a_tag_or_on_hover():
    tagged = term("hospital_self_pay", "category")
    assert tagged == (
        '<span class="term">Hospital, patient&#39;s share 医院个人自付部分 '
        '<code class="tag">hospital_self_pay</code></span>'
    )
    inline = term("child", "relationship", tag=False)
    assert inline == '<span class="term" title="child">Child 子女</span>'
    event = term("BindRejected", "event")
    assert 'title="A bind was refused by a rule; no binding changed."' in event and ">BindRejected</code>" in event
    assert term(None, "status") == "—" and term("<x>", "status").count("&lt;x&gt;") == 2


def test_shown_keeps_markup_and_words_booleans():
    assert shown(True) == "yes 是" and shown(None) == "—" and shown(term("active", "status")).startswith("<span")
