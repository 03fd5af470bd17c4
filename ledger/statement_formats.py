"""Statements as CSV (for spreadsheets) and PDF (for people); JSON is the verifiable form."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CSV_COLUMNS = ("seq", "at", "kind", "description", "amount", "currency", "leaf_hash")
INCOME_KINDS = ("revenue.distributed",)


def to_csv(statement: dict[str, Any]) -> str:
    """One row per line, with the opening and closing balances as the first and last rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    currency = statement["currency"]
    writer.writerow(["", statement["from"], "opening_balance", "Opening balance",
                     statement["opening_balance"], currency, ""])
    for line in statement["lines"]:
        writer.writerow([line["seq"], line["at"], line["kind"], line["description"],
                         line["amount"], currency, line["leaf_hash"]])
    writer.writerow(["", statement["to"], "closing_balance", "Closing balance",
                     statement["closing_balance"], currency, ""])
    return out.getvalue()


def income_by(statement: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Distribution income by month (YYYY-MM) and by asset."""
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    by_asset: dict[str, Decimal] = defaultdict(Decimal)
    for line in statement["lines"]:
        if line["kind"] in INCOME_KINDS:
            amount = Decimal(line["amount"])
            by_month[line["at"][:7]] += amount
            by_asset[line["entry"]["data"]["asset_id"]] += amount
    return dict(sorted(by_month.items())), dict(sorted(by_asset.items()))


def _bar_chart(title: str, data: dict[str, Decimal], horizontal: bool) -> Drawing:
    drawing = Drawing(170 * mm, 62 * mm)
    drawing.add(String(0, 58 * mm, title, fontName="Helvetica-Bold", fontSize=10))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    chart.x, chart.y = (38 * mm, 8 * mm) if horizontal else (14 * mm, 10 * mm)
    chart.width, chart.height = (125 * mm, 44 * mm) if horizontal else (150 * mm, 42 * mm)
    chart.data = [[float(v) for v in data.values()] or [0.0]]  # drawing only, never money math
    chart.categoryAxis.categoryNames = list(data) or ["-"]
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#2f6f8f")
    drawing.add(chart)
    return drawing


def to_pdf(statement: dict[str, Any], party_name: str,
           asset_titles: dict[str, str] | None = None) -> bytes:
    """A readable statement: who, when, totals, a chart of income, and every line."""
    titles = asset_titles or {}
    places = Decimal(1).scaleb(-int(statement["currency_exponent"]))
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    currency = statement["currency"]
    lines = statement["lines"]
    income = sum((Decimal(ln["amount"]) for ln in lines if ln["kind"] in INCOME_KINDS),
                 Decimal(0))
    other = sum((Decimal(ln["amount"]) for ln in lines if ln["kind"] not in INCOME_KINDS),
                Decimal(0))
    by_month, by_asset = income_by(statement)
    by_asset = {titles.get(a, a)[:28]: v for a, v in by_asset.items()}
    story: list[Any] = [
        Paragraph("IPX revenue statement", styles["Title"]),
        Paragraph(f"<b>{party_name}</b> ({statement['party_id']})", styles["Normal"]),
        Paragraph(f"Period: {statement['from'][:10]} to {statement['to'][:10]} (UTC, end "
                  f"exclusive) &nbsp; Currency: {currency}", styles["Normal"]),
        Spacer(1, 4 * mm),
    ]
    totals = Table([
        ["Opening balance", statement["opening_balance"]],
        ["Revenue distributions", f"{income.quantize(places):+}"],
        ["Trades, deposits, withdrawals and fees", f"{other.quantize(places):+}"],
        ["Closing balance", statement["closing_balance"]],
    ], colWidths=[90 * mm, 40 * mm])
    totals.setStyle(TableStyle([
        ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")]))
    story += [totals, Spacer(1, 5 * mm)]
    if by_month:
        story += [_bar_chart(f"Revenue income by month ({currency})", by_month, False),
                  _bar_chart(f"Revenue income by asset ({currency})", by_asset, True)]
    rows = [["Seq", "Date (UTC)", "Description", f"Amount ({currency})"]]
    rows += [[str(ln["seq"]), ln["at"][:16].replace("T", " "),
              Paragraph(ln["description"], small), ln["amount"]] for ln in lines]
    table = Table(rows, colWidths=[14 * mm, 28 * mm, 110 * mm, 25 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 7.5), ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("ALIGN", (3, 0), (3, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f4f6")])]))
    checkpoint = statement["checkpoint"]
    story += [Spacer(1, 4 * mm), table, Spacer(1, 5 * mm), Paragraph(
        f"Every line is journal entry <i>seq</i>, proved against signed checkpoint "
        f"{checkpoint['origin']} of size {checkpoint['tree_size']} (root "
        f"{checkpoint['root_hash'][:16]}...). Verify the JSON form offline with "
        "<font face='Courier'>ipx verify-statement</font>.", small)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title="IPX revenue statement",
                      leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm).build(story)
    return buffer.getvalue()
