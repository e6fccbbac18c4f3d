"""The console in a real browser: Playwright for Python driving the system's Chromium against a
real `ledger serve` subprocess on a free port, with the compliance story applied.

An auditor signs in and searches by keyboard, opens a timeline, switches "as of", opens a
deduction's replay, downloads its bundle and checks it on the integrity page, opens the access
log and a report; an operator seals and rebuilds; a channel key is refused; a form posted
without its CSRF token is refused. Every page is screenshotted into LEDGER_TEST_ARTIFACTS
(default: the test's tmp_path) and fails the test when it shows a traceback or an empty table
where the story has rows. Without Chromium or playwright the test skips, unless
LEDGER_REQUIRE_CHROMIUM=1 (CI), where that is a failure. Never runs `playwright install`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.tools.bench_http import free_port, wait_healthy
from tests.support import Ledger
from tests.support.backends import unavailable
from tests.support.families import compliance_story

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}


def chromium_path() -> str:
    found = next(
        (
            p
            for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
            if p and Path(p).exists()
        ),
        None,
    )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found = None
        missing = "playwright (pip install playwright; never `playwright install`: the system Chromium is used)"
    else:
        missing = "headless Chromium (apt-get install -y chromium)"
    if found is None:
        unavailable(
            f"{missing} not found", "LEDGER_REQUIRE_CHROMIUM", "set LEDGER_REQUIRE_CHROMIUM=1 to make this a failure"
        )
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`ledger serve` on a SQLite file holding the compliance story, and a key per role."""
    from infra.access.keys import KeyStore
    from infra.eventstore.application import LedgerApp
    from infra.settings import load_settings

    db = str(tmp_path / "ledger.db")
    app = LedgerApp(load_settings(db))
    family = compliance_story(Ledger(app))
    store = KeyStore(app.recorder, app.settings.pseudonym_key)
    tokens = {
        "auditor": store.create_key("auditor", region="11", name="e2e auditor")["token"],
        "operator": store.create_key("operator", name="e2e operator")["token"],
        "channel": store.create_key("channel", channel="alipay")["token"],
    }
    app.close()
    port = free_port()
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 - read back after the server stops
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli.main", "--db", db, "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ENV,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield {"base": base, "tokens": tokens, "family": family, "log": log}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.seek(0)
        server_log = log.read()
        log.close()
        assert "Traceback" not in server_log, server_log[-4000:]
        assert family["child"] not in server_log  # no ID number in the server's log


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = Path(os.environ.get("LEDGER_TEST_ARTIFACTS") or tmp_path) / "console"
    root.mkdir(parents=True, exist_ok=True)
    return root


class Pages:
    """Screenshots each page and fails on a traceback or on an empty table that should have rows."""

    def __init__(self, artifacts: Path):
        self.artifacts = artifacts
        self.shots: list[Path] = []

    def check(self, page: Any, name: str, tables: tuple[str, ...] = ()) -> None:
        page.wait_for_load_state("load")
        content = page.content()
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        for marker in ("Traceback", "Internal Server Error", "jinja2.exceptions"):
            assert marker not in content, f"{name}: the page shows {marker!r} (see {path})"
        for table in tables:
            rows = page.locator(f"table#{table} tbody tr:not(.empty)").count()
            assert rows > 0, f"{name}: table #{table} is empty though the story has rows (see {path})"


def tab_to(page: Any, element_id: str, presses: int = 15) -> None:
    """Press Tab until the element has the focus (keyboard only)."""
    for _ in range(presses):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def sign_in_by_keyboard(page: Any, base: str, token: str, purpose: str) -> None:
    page.goto(base + "/console/login")
    page.locator("body").focus()
    tab_to(page, "token")
    page.keyboard.type(token)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "purpose"
    page.keyboard.type(purpose)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_console_in_chromium(server: dict[str, Any], artifacts: Path, tmp_path: Path) -> None:
    executable = chromium_path()
    from playwright.sync_api import ViewportSize, sync_playwright

    base, tokens, family = server["base"], server["tokens"], server["family"]
    pages = Pages(artifacts)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            viewport: ViewportSize = {"width": 1200, "height": 900}
            # --- a channel key is refused at sign-in
            refused = browser.new_context(viewport=viewport).new_page()
            sign_in_by_keyboard(refused, base, tokens["channel"], "trying")
            assert refused.url.endswith("/console/login")
            assert "cannot sign in" in refused.locator("#login-error").inner_text()
            pages.check(refused, "01-login-refused")

            # --- the operator seals (so that bundles can be built) and rebuilds the views
            operator = browser.new_context(viewport=viewport).new_page()
            sign_in_by_keyboard(operator, base, tokens["operator"], "")
            operator.locator("nav.top").get_by_role("link", name="Integrity 完整性").click()
            operator.locator("#seal").click()
            assert "Sealed:" in operator.locator(".message.info").inner_text()
            assert "Chain intact" in operator.locator("#chain-verdict").inner_text()
            pages.check(operator, "07-integrity-operator", ("checkpoints",))
            operator.locator("nav.top").get_by_role("link", name="Operations 运维").click()
            pages.check(operator, "09-projections", ("views",))
            operator.locator("#rebuild").click()
            operator.wait_for_selector("#rebuild-finished", timeout=60_000)  # the page refreshes itself
            assert "Rebuild finished" in operator.locator("#rebuild-finished").inner_text()
            pages.check(operator, "10-projections-rebuilt", ("views",))
            # a form posted without its CSRF token is refused
            operator.locator("form[action='/console/projections/rebuild'] input[name=csrf]").evaluate("e => e.remove()")
            operator.locator("#rebuild").click()
            assert "CSRF" in operator.locator("#error-detail").inner_text()
            pages.check(operator, "11-csrf-refused")

            # --- the auditor
            context = browser.new_context(viewport=viewport, accept_downloads=True)
            page = context.new_page()
            sign_in_by_keyboard(page, base, tokens["auditor"], "complaint 2025-17")
            assert page.url.endswith("/console/"), page.content()[-1500:]
            pages.check(page, "02-home")
            page.locator("nav.top").get_by_role("link", name="Persons 人员").click()
            page.locator("body").focus()
            tab_to(page, "id_number")
            page.keyboard.type(family["child"])
            page.keyboard.press("Enter")
            page.wait_for_url("**/console/persons/*")
            assert family["child"] not in page.url
            assert page.locator("#masked").inner_text() == family["child"][:6] + "********" + family["child"][-4:]
            pages.check(page, "03-person", ("timeline", "authorizers", "binders"))
            person_url = page.url
            page.fill("#as_of", "2025-03-05T12:00")
            page.get_by_role("button", name="Show 显示").click()
            page.wait_for_url("**as_of=2025-03-05T12%3A00**")
            assert page.locator("table#timeline tbody tr.later").count() > 0
            pages.check(page, "04-person-as-of", ("timeline",))
            page.locator("a.replay", has_text="S-1").first.click()
            page.wait_for_url("**/console/settlements/S-1")
            assert "Consistent" in page.locator("#verdict").inner_text()
            pages.check(page, "05-settlement", ("candidates", "steps", "comparison", "rules", "evidence"))
            with page.expect_download() as download:
                page.locator("#download-bundle").click()
            bundle = tmp_path / "bundle-S-1.json"
            download.value.save_as(str(bundle))
            assert json.loads(bundle.read_text())["settlement_id"] == "S-1"
            page.locator("nav.top").get_by_role("link", name="Integrity 完整性").click()
            page.set_input_files("#bundle", str(bundle))
            page.locator("#verify-bundle").click()
            verdict = page.locator("#bundle-verdict")
            assert verdict.get_attribute("data-ok") == "true" and "consistent" in verdict.inner_text()
            pages.check(page, "08-integrity-bundle", ("checkpoints", "bundle-checks"))
            page.goto(person_url)
            page.get_by_role("link", name="Who read this 查阅记录").click()
            assert "complaint 2025-17" in page.locator("table#access-log").inner_text()
            pages.check(page, "06-access-log", ("access-log",))
            page.locator("nav.top").get_by_role("link", name="Compliance 合规报告").click()
            page.fill("#month", "2025-03")
            page.fill("#region", "11")
            page.get_by_role("button", name="Show report 生成报告").click()
            page.wait_for_url("**month=2025-03**")
            assert page.locator("svg").count() == 4
            pages.check(page, "12-report", ("by-channel", "deductions", "by-category", "integrity"))
            with page.expect_download() as download:
                page.locator("#download-csv").click()
            assert "deductions" in Path(download.value.path()).read_text()
        finally:
            browser.close()
    assert len(pages.shots) == 12
