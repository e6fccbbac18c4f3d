"""CLI commands of the performance work: `ledger simulate` and `ledger bench`.

(`ledger apply --batch-size N` lives with `apply` in infra.cli.ledger; the group commit in infra.writing.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import click

from infra.cli import output
from infra.cli.context import LedgerContext, guarded
from infra.collector import survivors_frozen
from infra.federation.bench import run_bench as run_federation_bench
from infra.provinces.federation_file import load_federation
from infra.settings import Settings, load_settings
from infra.tools.bench import human_table, run_bench
from infra.tools.bench_curve import CURVE_MAX_DEFAULT, curve_svg, run_curve
from infra.tools.national_workload import national_lines
from infra.tools.simulate import simulate as generate
from infra.writing.write_path import BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX


@click.command()
@click.option("--persons", type=click.IntRange(1, 10_000_000), required=True, help="How many insured people.")
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the command lines here; without it, apply them to the database (group commit).",
)
@click.option(
    "--batch-size",
    default=BATCH_SIZE_DEFAULT,
    show_default=True,
    type=click.IntRange(1, BATCH_SIZE_MAX),
    help="Group-commit batch size when applying.",
)
@click.option(
    "--national-out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the workload's settlements and reversals here as the national platform's 2207 and "
    "2208 import lines, with the figures the ledger decides (a scratch ledger in memory decides them).",
)
@click.pass_obj
@guarded
def simulate(
    obj: LedgerContext, persons: int, months: int, seed: int, out: str | None, batch_size: int, national_out: str | None
) -> None:
    """Generate a realistic, deterministic family-account history (JSON command lines)."""
    if national_out:
        scratch = load_settings("memory://", obj.rules_dir)
        written = _write_lines(national_out, national_lines(scratch, generate(persons, months, seed)))
        output.err_console.print(f"wrote {written} national platform lines (2207, 2208) to {national_out}")
    lines = generate(persons, months, seed)
    if out:
        count = _write_lines(out, lines)
        output.err_console.print(f"wrote {count} command lines to {out}")
        return
    summary: dict[str, int] = {}
    for result in obj.ledger().commands.stream(lines, batch_size=batch_size):
        key = "ok" if result["ok"] else result["error"]["code"]
        summary[key] = summary.get(key, 0) + 1
    output.emit_json({"applied": sum(summary.values()), "results": dict(sorted(summary.items()))})


def _write_lines(path: str, lines: Iterator[str]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
    return count


FEDERATION_FAMILIES = {"small": 300, "full": 2_000}  # families per ledger and measurement


@click.command()
@click.option(
    "--scale",
    type=click.Choice(["tiny", "small", "full"]),
    default="small",
    show_default=True,
    help="tiny: 60 people over 2 months (a check of the report, seconds); small: 1,500 over 3; full: 20,000 over 12.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (after the table).")
@click.option(
    "--curve",
    is_flag=True,
    help="Instead: the cost curves (commands/s, rebuild, seal and verify against the log's size, "
    "audit replay against one person's history), filling the store up to --curve-max events.",
)
@click.option(
    "--curve-max",
    type=click.IntRange(100, 10_000_000),
    default=CURVE_MAX_DEFAULT,
    show_default=True,
    help="The curve's largest log (points at 10k, 100k, 1M up to it).",
)
@click.option(
    "--svg",
    "svg_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="With --curve: also write the curves as an SVG plot to this file.",
)
@click.pass_obj
@guarded
def bench(
    obj: LedgerContext, scale: str, seed: int, as_json: bool, curve: bool, curve_max: int, svg_path: str | None
) -> None:
    """Measure group commit, its one-transaction-per-command baseline, raw insert/scan,
    rebuild and audit replay on the database given by --db (use a fresh schema). With
    --federation: aggregate commands/s of one, two and three ledgers and the relay's figures
    (infra.federation.bench; use fresh ledgers)."""
    if obj.federation is not None:
        figures = run_federation_bench(load_federation(obj.federation), obj.rules_dir, FEDERATION_FAMILIES[scale])
        output.emit_json(figures) if as_json else output.console.print(
            output.key_value_table("bench --federation", figures)
        )
        return
    settings = obj.settings()
    say = lambda m: output.err_console.print(f"[dim]{m}[/]")  # noqa: E731
    with survivors_frozen():  # its writers are long-running ones (infra.collector)
        if curve:
            _bench_curve(settings, curve_max, seed, as_json, svg_path, say)
            return
        result = run_bench(settings, scale, seed, log=say)
    table = output.rows_table(
        f"ledger bench --scale {scale}", [{"figure": k, "value": v} for k, v in human_table(result)]
    )
    output.err_console.print(table)
    if as_json:
        output.emit_json(result)
    else:
        output.console.print(table)
    sys.stdout.flush()


def _bench_curve(
    settings: Settings, curve_max: int, seed: int, as_json: bool, svg_path: str | None, say: Callable[[str], None]
) -> None:
    result = run_curve(settings, curve_max, seed, log=say)
    points = result["points"]
    rows = [{"figure": key, **{f"{p['events']:,}": p[key] for p in points}} for key in points[0]]
    output.err_console.print(output.rows_table(f"ledger bench --curve --curve-max {curve_max}", rows))
    output.err_console.print(output.rows_table("audit replay of one person", result["audit"]))
    if svg_path:
        with open(svg_path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(curve_svg(result))
        say(f"wrote the curves to {svg_path}")
    if as_json:
        output.emit_json(result)
    sys.stdout.flush()
