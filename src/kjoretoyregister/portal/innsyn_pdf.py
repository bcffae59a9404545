"""Min innsyn as a PDF the person can keep or send on (fpdf2, no external tools).

The built-in Helvetica covers Latin-1, which holds every Norwegian letter; anything outside
it (a dash, an emoji in a case reference) is replaced rather than failing the download.
"""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

COLUMNS = (
    ("Tid", "tid", 22),
    ("Organisasjon", "organisasjon", 38),
    ("Hvem", "hvem", 40),
    ("Hva", "hva", 36),
    ("Formål", "formaal", 36),
    ("Saksreferanse", "saksreferanse", 28),
    ("Hvordan", "hvordan", 52),
    ("Utfall", "utfall", 18),
)


def _latin1(text: str) -> str:
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2026", "...")
    return text.encode("latin-1", "replace").decode("latin-1")


def render(navn: str, made: datetime, rows: list[dict[str, str]], *, truncated: bool) -> bytes:
    """The report: who it is for, when it was made, one table row per lookup item."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(_latin1(f"Innsyn for {navn}"))
    pdf.set_creator("Fiks Kjøretøyregister")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    title = _latin1("Innsyn: hvem har slått deg opp i Kjøretøyregisteret")
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    lines = [
        f"For: {navn}",
        f"Laget: {made.strftime('%d.%m.%Y %H:%M')}",
        f"Antall oppslag: {len(rows)}" + (" (bare de nyeste; se portalen for resten)" * truncated),
        "Alle oppslag fra alle organisasjoner der du var den det ble søkt etter, eller var eier, "
        "medeier eller leasingtaker i svaret fra Statens vegvesen.",
    ]
    for line in lines:
        pdf.multi_cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if not rows:
        pdf.cell(0, 8, _latin1("Ingen oppslag funnet."), new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
    pdf.set_font("Helvetica", size=8)
    widths = tuple(w for _, _, w in COLUMNS)
    with pdf.table(col_widths=widths, headings_style=FontFace(emphasis="BOLD")) as table:
        head = table.row()
        for title, _, _ in COLUMNS:
            head.cell(_latin1(title))
        for r in rows:
            row = table.row()
            for _, key, _ in COLUMNS:
                row.cell(_latin1(r.get(key, "")))
    return bytes(pdf.output())
