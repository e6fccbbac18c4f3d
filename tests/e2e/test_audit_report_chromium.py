"""The HTML compliance report, rendered in headless Chromium and looked at as a picture.

Chromium comes from Debian (`apt-get install -y chromium`). Without it this test skips with a
message, unless LEDGER_REQUIRE_CHROMIUM=1 (CI), where a missing browser is a failure. The PNG
is decoded with the standard library (zlib + struct) to check it is not one blank colour and
that the chart colours are actually drawn.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import audit_deduction
from infra.audit.report import compliance_report
from infra.pages.rendering import render_audit, render_report
from tests.support.backends import unavailable
from tests.support.families import compliance_story as story

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHART_BLUE = (0x25, 0x63, 0xEB)  # bindings by day
CHART_GREEN = (0x05, 0x96, 0x69)  # deductions by day


def chromium() -> str:
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        unavailable(
            "headless Chromium not found (apt-get install -y chromium)",
            "LEDGER_REQUIRE_CHROMIUM",
            "set LEDGER_REQUIRE_CHROMIUM=1 to make this a failure",
        )
    return found


def screenshot(html_file: Path, png: Path, profile: Path) -> None:
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1200,2000",
            html_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """8-bit RGB or RGBA, non-interlaced (what Chromium writes): width, height, raw rows."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG layout {header}")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride, rows, previous = width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def colours(rows: list[bytes]) -> set[tuple[int, int, int]]:
    return {(row[x], row[x + 1], row[x + 2]) for row in rows[::4] for x in range(0, len(row), 12)}


def test_compliance_report_renders_with_charts_in_headless_chromium(ledger, tmp_path):
    browser = chromium()
    assert browser
    story(ledger)
    page = tmp_path / "report.html"
    page.write_text(render_report(compliance_report(EvidenceStore(ledger.app), "2025-03")), encoding="utf-8")
    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path / "profile")
    data = png.read_bytes()
    assert 20_000 < len(data) < 20_000_000
    width, height, rows = decode_png(data)
    assert (width, height) == (1200, 2000)
    seen = colours(rows)
    assert len(seen) > 20, "the screenshot is (nearly) one colour"
    assert CHART_BLUE in seen and CHART_GREEN in seen, "the bar charts were not drawn"
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    if keep:
        shutil.copy(png, Path(keep) / "compliance-report.png")


def test_audit_page_renders_in_headless_chromium(ledger, tmp_path):
    chromium()
    story(ledger)
    result = audit_deduction(ledger.app, EvidenceStore(ledger.app), "S-1")[0]
    page = tmp_path / "audit.html"
    page.write_text(render_audit(result), encoding="utf-8")
    png = tmp_path / "audit.png"
    screenshot(page, png, tmp_path / "profile")
    _, _, rows = decode_png(png.read_bytes())
    assert (0xDC, 0xFC, 0xE7) in colours(rows)  # the green "consistent" verdict box
    keep = os.environ.get("LEDGER_SCREENSHOT_DIR")
    if keep:
        shutil.copy(png, Path(keep) / "deduction-audit.png")
