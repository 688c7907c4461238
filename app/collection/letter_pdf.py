"""Check a letter body's markup and lay the letter out as an A4 PDF with fpdf2.

The body comes from an editable template, so its HTML is limited to the tags
below. fpdf2's ``write_html`` renders those, while it prints unknown tags' text
as is and would read any file an ``<img>`` names. The same check keeps the
printable HTML copy free of scripts and styles.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

from fpdf import FPDF
from fpdf.errors import FPDFException
from fpdf.html import HTML2FPDF

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT_FAMILY = "DejaVuSans"
# DejaVu Sans covers French accents, the euro sign and the no-break spaces that
# Babel puts in French amounts, while fpdf2's built-in fonts are Latin-1 only.
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
FONT_SIZE = 10
# Amount tables have up to seven columns, so their text is a little smaller.
TABLE_FONT_SIZE = 8.5
LINE_HEIGHT = 5  # mm
MARGIN = 20  # mm
# The foot of each page contains the creditor's legal mention and the page number,
# so the body stops this far above the bottom edge.
BOTTOM_MARGIN = 24  # mm
FOOTER_FONT_SIZE = 7
FOOTER_LINE_HEIGHT = 3.5  # mm
# A DL window envelope shows the recipient block at about this position.
RECIPIENT_X = 110  # mm from the left edge
RECIPIENT_Y = 50  # mm from the top edge

ALIGN_VALUES = frozenset({"left", "center", "right", "justify"})
# Tag -> attributes it may carry.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "p": frozenset({"align"}),
    "br": frozenset(),
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "h2": frozenset(),
    "h3": frozenset(),
    "hr": frozenset(),
    "ul": frozenset(),
    "ol": frozenset(),
    "li": frozenset(),
    "table": frozenset(),
    "thead": frozenset(),
    "tbody": frozenset(),
    "tr": frozenset(),
    "th": frozenset({"align", "colspan", "width"}),
    "td": frozenset({"align", "colspan", "width"}),
}
VOID_TAGS = frozenset({"br", "hr"})
CELL_TAGS = frozenset({"th", "td"})


class LetterMarkupError(ValueError):
    """The body's HTML uses something a letter cannot contain."""


@dataclasses.dataclass(frozen=True)
class LetterLayout:
    """Every text of a letter, already in the letter's language."""

    sender_name: str
    sender_address: str
    recipient_name: str
    recipient_address: str
    place_date: str
    reference_line: str
    subject_line: str
    body_html: str
    page_label: str  # contains {page} and {pages}
    legal_line: str  # the creditor's legal identity, printed at the foot of each page


class _MarkupChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open_cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line, _column = self.getpos()
        if tag not in ALLOWED_TAGS:
            allowed = ", ".join(f"<{name}>" for name in sorted(ALLOWED_TAGS))
            raise LetterMarkupError(
                f"line {line}: the tag <{tag}> is not allowed in a letter. "
                f"Use only {allowed}."
            )
        if self.open_cells:
            raise LetterMarkupError(
                f"line {line}: <{tag}> inside a table cell cannot be printed, because "
                "a cell may contain text only."
            )
        for name, value in attrs:
            self._check_attribute(tag, name, value or "", line)
        if tag in CELL_TAGS:
            self.open_cells += 1

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag in CELL_TAGS:
            self.open_cells -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in CELL_TAGS and self.open_cells:
            self.open_cells -= 1

    @staticmethod
    def _check_attribute(tag: str, name: str, value: str, line: int) -> None:
        if name not in ALLOWED_TAGS[tag]:
            raise LetterMarkupError(
                f"line {line}: the attribute {name!r} is not allowed on <{tag}>."
            )
        if name == "align" and value.lower() not in ALIGN_VALUES:
            raise LetterMarkupError(
                f"line {line}: align={value!r} is invalid. Use left, center, "
                "right or justify."
            )
        if name == "colspan" and not (value.isdigit() and 1 <= int(value) <= 20):
            raise LetterMarkupError(
                f"line {line}: colspan={value!r} is invalid. Use a number from 1 to 20."
            )
        if name == "width" and not _is_percentage(value):
            raise LetterMarkupError(
                f"line {line}: width={value!r} is invalid. Use a percentage of the "
                "page width from 1% to 100%, such as 15%."
            )


def _is_percentage(value: str) -> bool:
    number = value.removesuffix("%")
    return value.endswith("%") and number.isdigit() and 1 <= int(number) <= 100


def check_markup(body_html: str) -> None:
    """Raise LetterMarkupError when the body uses a tag or attribute not allowed."""
    checker = _MarkupChecker()
    checker.feed(body_html)
    checker.close()


class _LetterHTML2FPDF(HTML2FPDF):
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # fpdf2 2.8.9 draws plain table cells in the font style current when the
        # table starts, which is still bold after a <b> earlier in the body.
        if tag == "table":
            self.pdf.set_font(style="")
            # Cells take this size because it differs from the page's font size.
            self.font_size_pt = TABLE_FONT_SIZE
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        super().handle_endtag(tag)
        if tag == "table":
            self.font_size_pt = FONT_SIZE


class _LetterPDF(FPDF):
    HTML2FPDF_CLASS = _LetterHTML2FPDF

    def __init__(self, page_label: str, legal_line: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.page_label = page_label
        self.legal_line = legal_line

    def footer(self) -> None:
        self.set_y(-(BOTTOM_MARGIN - 4))
        self.set_font(FONT_FAMILY, "", FOOTER_FONT_SIZE)
        self.multi_cell(
            0,
            FOOTER_LINE_HEIGHT,
            self.legal_line,
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        label = self.page_label.format(
            page=self.page_no(), pages=self.str_alias_nb_pages
        )
        self.cell(0, FOOTER_LINE_HEIGHT, label, align="C")


def render_pdf(layout: LetterLayout) -> bytes:
    """Lay the letter out as PDF bytes. Raises LetterMarkupError on unprintable HTML."""
    check_markup(layout.body_html)
    pdf = _LetterPDF(layout.page_label, layout.legal_line)
    try:
        _add_fonts(pdf)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=BOTTOM_MARGIN)
        pdf.set_title(layout.subject_line)
        pdf.set_author(layout.sender_name)
        pdf.add_page()
        _write_header(pdf, layout)
        try:
            pdf.write_html(layout.body_html, font_family=FONT_FAMILY)
        except (FPDFException, NotImplementedError, ValueError) as error:
            raise LetterMarkupError(
                f"the letter body cannot be printed: {error}"
            ) from error
        return bytes(pdf.output())
    finally:
        _close_fonts(pdf)


def _add_fonts(pdf: FPDF) -> None:
    for style, file_name in FONT_FILES.items():
        pdf.add_font(FONT_FAMILY, style, FONT_DIR / file_name)


def _close_fonts(pdf: FPDF) -> None:
    # fpdf2 opens the font files lazily and leaves them open until the font
    # objects are collected, which Python reports as a ResourceWarning.
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


def _write_header(pdf: FPDF, layout: LetterLayout) -> None:
    """Write the sender, recipient, date, reference and subject blocks."""
    width = pdf.epw / 2
    pdf.set_font(FONT_FAMILY, "B", FONT_SIZE)
    pdf.multi_cell(
        width, LINE_HEIGHT, layout.sender_name, new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font(FONT_FAMILY, "", FONT_SIZE)
    pdf.multi_cell(
        width, LINE_HEIGHT, layout.sender_address, new_x="LMARGIN", new_y="NEXT"
    )

    pdf.set_xy(RECIPIENT_X, RECIPIENT_Y)
    recipient_width = pdf.w - MARGIN - RECIPIENT_X
    pdf.set_font(FONT_FAMILY, "B", FONT_SIZE)
    pdf.multi_cell(
        recipient_width, LINE_HEIGHT, layout.recipient_name, new_x="LEFT", new_y="NEXT"
    )
    pdf.set_font(FONT_FAMILY, "", FONT_SIZE)
    if layout.recipient_address:
        pdf.multi_cell(
            recipient_width,
            LINE_HEIGHT,
            layout.recipient_address,
            new_x="LEFT",
            new_y="NEXT",
        )

    pdf.set_xy(MARGIN, max(pdf.get_y(), RECIPIENT_Y + 30) + LINE_HEIGHT)
    pdf.cell(
        0, LINE_HEIGHT, layout.place_date, align="R", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.cell(0, LINE_HEIGHT, layout.reference_line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(LINE_HEIGHT)
    pdf.set_font(FONT_FAMILY, "B", FONT_SIZE)
    pdf.multi_cell(0, LINE_HEIGHT, layout.subject_line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", FONT_SIZE)
    pdf.ln(LINE_HEIGHT)
