"""The console's pages through FastAPI's TestClient on the in-memory store: sign-in and its
refusals, the session cookie, CSRF on every form, roles and regions as in the API, the access
log, and the same figures as the API."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from tests.support import Ledger
from tests.support.families import compliance_story
from tests.support.service import auth, make_server

POSTS = (
    "/console/persons",
    "/console/integrity/seal",
    "/console/integrity/verify-bundle",
    "/console/projections/rebuild",
    "/console/projections/checksum",
    "/console/logout",
)


@pytest.fixture
def served(app):
    family = compliance_story(Ledger(app))
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api) as client:
        yield client, api, tokens, family


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, token: str, purpose: str = "complaint 2025-17"):
    form = client.get("/console/login")
    return client.post("/console/login", data={"token": token, "purpose": purpose, "csrf": csrf(form.text)})


def search(client: TestClient, number: str):
    page = client.get("/console/persons")
    return client.post("/console/persons", data={"id_number": number, "csrf": csrf(page.text)})


class Fields(HTMLParser):
    """Form fields (but hidden ones and buttons) and the label each one has."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str | None] = []
        self.labelled: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.labelled.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append(a.get("id") if not self.open_labels else "(wrapped)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def assert_labelled(html: str) -> None:
    parser = Fields()
    parser.feed(html)
    for field in parser.fields:
        assert field == "(wrapped)" or field in parser.labelled, f"field {field} has no label"


def test_only_auditor_operator_and_admin_keys_sign_in(served):
    client, _, tokens, _ = served
    for role in ("channel", "institution", "fund"):
        refused = sign_in(client, tokens[role])
        assert refused.status_code == 403 and f"A {role} key cannot sign in" in refused.text
    unknown = sign_in(client, "lk_nonsense")
    assert unknown.status_code == 401 and "Unknown, expired or revoked key" in unknown.text
    no_purpose = sign_in(client, tokens["auditor"], purpose="")
    assert no_purpose.status_code == 422 and "Purpose required" in no_purpose.text
    assert client.get("/console/persons", follow_redirects=False).headers["location"] == "/console/login"
    for role in ("auditor", "operator", "admin"):
        signed = sign_in(client, tokens[role])
        assert signed.status_code == 200 and str(signed.url).endswith("/console/")
        client.post("/console/logout", data={"csrf": csrf(signed.text)})


def test_session_cookie_is_httponly_strict_and_expires(served):
    client, _, tokens, _ = served
    form = client.get("/console/login")
    response = client.post(
        "/console/login",
        follow_redirects=False,
        data={"token": tokens["auditor"], "purpose": "t", "csrf": csrf(form.text)},
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie and "path=/console" in cookie
    assert tokens["auditor"].lower() not in cookie  # only a random session id
    assert form.cookies.get("ledger_console") != response.cookies.get("ledger_console")  # a new id at sign-in
    page = client.get("/console/")
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in page.headers
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    client.post("/console/logout", data={"csrf": csrf(page.text)})
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_every_form_refuses_a_post_without_its_csrf_token(served):
    client, _, tokens, family = served
    form = client.get("/console/login")
    assert client.post("/console/login", data={"token": tokens["auditor"], "purpose": "t"}).status_code == 403
    assert (
        client.post("/console/login", data={"token": tokens["auditor"], "purpose": "t", "csrf": "forged"}).status_code
        == 403
    )
    assert csrf(form.text)
    sign_in(client, tokens["operator"])
    for path in POSTS:
        refused = client.post(path, data={"csrf": "wrong", "id_number": family["child"]})
        assert refused.status_code == 403, path
    sign_in(client, tokens["auditor"])
    refused = client.post("/console/persons", data={"id_number": family["child"]})
    assert refused.status_code == 403 and "CSRF" in refused.text


def test_search_timeline_as_of_and_access_log(served):
    client, _, tokens, family = served
    sign_in(client, tokens["auditor"], purpose="complaint 2025-17")
    found = search(client, family["child"])
    assert found.status_code == 200 and family["child"] not in str(found.url)
    assert family["child"] not in found.text and family["child"][:6] + "********" in found.text
    assert_labelled(found.text)
    ref = str(found.url).rsplit("/", 1)[1]
    assert found.text.count('class="replay"') >= 2 and 'href="/console/settlements/S-1"' in found.text
    assert found.text.count("<tr") > 10 and 'class="later"' not in found.text
    earlier = client.get(f"/console/persons/{ref}", params={"as_of": "2025-03-05T12:00"})
    assert earlier.status_code == 200 and 'class="later"' in earlier.text
    assert 'value="2025-03-05T12:00"' in earlier.text
    bad = client.get(f"/console/persons/{ref}", params={"as_of": "yesterday"})
    assert bad.status_code == 422 and "Traceback" not in bad.text
    not_found = search(client, "110105201501019999")
    assert not_found.status_code in (404, 422) and "110105201501019999" not in not_found.text
    log = client.get(f"/console/persons/{ref}/access-log")
    rows = re.findall(
        r"<tr><td><time [^>]*>.*?</time></td><td><code>(k_[0-9a-f]+)</code></td>"
        r'<td><span class="term">Auditor 审计人员 <code class="tag">auditor</code></span></td>'
        r"<td><code>([^<]+)</code></td>"
        r"<td>([^<]+)</td>",
        log.text,
    )
    assert [r[1] for r in rows] == [
        "/console/persons (lookup)",
        "/console/persons/{person_ref}",
        "/console/persons/{person_ref}",
        "/console/persons/{person_ref}/access-log",
    ]
    assert {r[2] for r in rows} == {"complaint 2025-17"}


def test_regions_and_roles_apply_as_in_the_api(served):
    client, _, tokens, family = served
    sign_in(client, tokens["auditor"])
    ref = str(search(client, family["child"]).url).rsplit("/", 1)[1]
    sign_in(client, tokens["auditor_42"])
    outside = search(client, family["child"])
    assert outside.status_code == 404 and "/console/persons/" not in str(outside.url)
    assert client.get(f"/console/persons/{ref}").status_code == 403
    assert client.get("/console/settlements/S-1").status_code == 403
    assert client.get("/console/reports", params={"month": "2025-03", "region": "11"}).status_code == 403
    assert client.get("/console/projections").status_code == 403
    sign_in(client, tokens["admin"])
    assert client.get(f"/console/persons/{ref}/access-log").status_code == 200
    assert client.get(f"/console/persons/{ref}").status_code == 403  # as the API: admins read the access log only
    sign_in(client, tokens["operator"])
    assert client.get("/console/persons").status_code == 403
    assert client.get("/console/projections").status_code == 200


def test_replay_bundle_seal_and_verify_show_what_the_api_computes(served):
    client, _, tokens, _ = served
    sign_in(client, tokens["auditor"])
    page = client.get("/console/settlements/S-1")
    api = client.get("/v1/settlements/S-1/audit", headers=auth(tokens["auditor"], **{"X-Purpose": "t"})).json()
    assert f'data-verdict="{api["verdict"]}"' in page.text and api["verdict"] == "consistent"
    for candidate in api["candidates"]:
        assert str(escape(candidate["why"])) in page.text
    assert client.get("/console/settlements/S-1/bundle").status_code == 409  # NOT_SEALED, as a page
    assert client.get("/console/settlements/NOPE").status_code == 404
    sign_in(client, tokens["operator"])
    integrity = client.get("/console/integrity")
    sealed = client.post("/console/integrity/seal", data={"csrf": csrf(integrity.text)})
    assert "Sealed: 1 new checkpoint" in sealed.text and "Chain intact" in sealed.text
    sign_in(client, tokens["auditor"])
    bundle = client.get("/console/settlements/S-1/bundle")
    assert bundle.status_code == 200 and "attachment" in bundle.headers["content-disposition"]
    integrity = client.get("/console/integrity")
    assert 'id="seal"' not in integrity.text  # sealing is for operators
    checked = client.post(
        "/console/integrity/verify-bundle",
        data={"csrf": csrf(integrity.text)},
        files={"bundle": ("s1.json", bundle.content, "application/json")},
    )
    assert checked.status_code == 200 and 'data-ok="true"' in checked.text and "✘ FAIL" not in checked.text
    tampered = bundle.content.replace(b'"S-1"', b'"S-9"', 1)
    checked = client.post(
        "/console/integrity/verify-bundle",
        data={"csrf": csrf(integrity.text)},
        files={"bundle": ("bad.json", tampered, "application/json")},
    )
    assert 'data-ok="false"' in checked.text and "✘ FAIL" in checked.text


def test_report_page_and_downloads_match_the_api(served):
    client, _, tokens, _ = served
    sign_in(client, tokens["auditor"])
    page = client.get("/console/reports", params={"month": "2025-03", "region": "11"})
    assert page.status_code == 200 and page.text.count("<svg") == 4
    assert_labelled(page.text)
    api = client.get(
        "/v1/reports/compliance", params={"month": "2025-03", "region": "11"}, headers=auth(tokens["auditor"])
    ).json()
    downloaded = client.get("/console/reports/download", params={"month": "2025-03", "region": "11", "format": "json"})
    mine = json.loads(downloaded.text)
    assert mine["deductions"] == api["deductions"] and mine["bindings"] == api["bindings"]
    csv = client.get("/console/reports/download", params={"month": "2025-03", "region": "11", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and "deductions,count," in csv.text
    html = client.get("/console/reports/download", params={"month": "2025-03", "region": "11", "format": "html"})
    assert html.text.count("<svg") == 4 and "<script" not in html.text
    assert client.get("/console/reports", params={"month": "2025-13"}).status_code == 422


def test_operator_rebuilds_and_sees_it_finish(served):
    import time

    client, _, tokens, _ = served
    sign_in(client, tokens["operator"])
    page = client.get("/console/projections")
    assert_labelled(page.text)
    started = client.post("/console/projections/rebuild", data={"csrf": csrf(page.text)})
    assert started.status_code == 200
    deadline = time.monotonic() + 30
    while "rebuild-finished" not in (page := client.get("/console/projections")).text:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "Rebuild finished" in page.text and "not computed yet" not in page.text
    assert page.text.count("<tr>") > 3


def test_a_revoked_key_ends_its_session(served):
    client, api, tokens, _ = served
    sign_in(client, tokens["auditor"])
    assert client.get("/console/persons").status_code == 200
    store = api.state.service.ledger.keys
    key_id = next(k["key_id"] for k in store.list_keys() if k["role"] == "auditor" and k["region"] == "11")
    assert store.revoke_key(key_id)
    ended = client.get("/console/persons")
    assert str(ended.url).endswith("/console/login?ended=1") and "session ended" in ended.text


def test_console_is_not_in_the_openapi_document(served):
    client, _, _, _ = served
    assert not [p for p in client.get("/openapi.json").json()["paths"] if p.startswith("/console")]


def test_the_time_fields_take_iso_text_with_a_t_or_a_space_in_utc_plus_8():
    from infra.console.plumbing import moment, picker_value

    with_t, with_space = moment("2025-03-05T12:00", "as_of"), moment("2025-03-05 12:00", "as_of")
    assert with_t == with_space and with_t is not None and with_t.isoformat() == "2025-03-05T12:00:00+08:00"
    assert picker_value(with_t) == "2025-03-05T12:00"
    assert moment("2025-03-05T04:00:00Z", "as_of") == with_t
