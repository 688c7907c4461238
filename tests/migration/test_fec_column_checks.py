"""The FEC reader's whole-column checks against its line-by-line parser.

The reader checks plain lines by whole columns and leaves the others to its
line-by-line parser. Both must give the same records and counters, whatever mix
of plain and unusual lines a file has and wherever its blocks end.
"""

from __future__ import annotations

import datetime as dt

import pytest

from migration import file_totals
from migration.readers import fec, fec_text
from migration.readers.fec import FEC_COLUMNS, read_fec

AS_OF = dt.date(2024, 3, 31)


def line(**values: str) -> dict[str, str]:
    """Return the 18 fields of a plain invoice line, with ``values`` replacing some."""
    fields = {
        "JournalCode": "VT",
        "JournalLib": "Ventes",
        "EcritureNum": "1",
        "EcritureDate": "20240110",
        "CompteNum": "411000",
        "CompteLib": "Clients",
        "CompAuxNum": "C001",
        "CompAuxLib": "Société Générale",
        "PieceRef": "FA-001",
        "PieceDate": "20240110",
        "EcritureLib": "Facture FA-001",
        "Debit": "1200,00",
        "Credit": "0,00",
        "EcritureLet": "",
        "DateLet": "",
        "ValidDate": "20240110",
        "Montantdevise": "",
        "Idevise": "",
    }
    return fields | values


def text_of(fields: dict[str, str], separator: str) -> str:
    return separator.join(fields[column] for column in FEC_COLUMNS)


def tricky_lines(separator: str) -> list[str]:
    """Return plain lines, then lines that the column checks leave to the parser."""
    plain = [
        line(EcritureNum=str(number), PieceRef=f"FA-{number}", Debit=f"{number},50")
        for number in range(10, 40)
    ]
    unusual = [
        line(PieceRef="FA-PAD", CompAuxNum=" C002 ", CompAuxLib="\u00a0Dupont "),
        line(PieceRef="FA-SIGN", Debit="+5"),
        line(PieceRef="FA-TRAIL", Debit="100,00-"),
        line(PieceRef="FA-ZERO", Debit="0100,00"),
        line(PieceRef="FA-SPACE", Debit="1 000,00"),
        line(PieceRef="FA-TEXT", Debit="abc"),
        line(PieceRef="FA-PRECISE", Debit="100,005"),
        line(PieceRef="FA-ZEROS", Debit="100,000"),
        line(PieceRef="FA-COMMA", Debit=",5"),
        line(PieceRef="FA-BOTH", Debit="10,00", Credit="10,00"),
        line(PieceRef="FA-NONE", Debit="0,00"),
        line(PieceRef="FA-TIME", EcritureDate="20240110 10:30"),
        line(PieceRef="FA-IMPOSSIBLE", EcritureDate="20240230"),
        line(PieceRef="FA-OLD", EcritureDate="18990101"),
        line(PieceRef="FA-LATER", EcritureDate="20240405", EcritureLet="ZZ"),
        line(PieceRef="FA-LET", EcritureLet="ZZ"),
        line(PieceRef="FA-EARLY", EcritureLet="YY", DateLet="20240101"),
        line(PieceRef="FA-10", EcritureNum="10", Debit="10,50"),
        line(PieceRef="FA-11", EcritureNum="11", Debit="011,50"),
        line(JournalCode="AN", PieceRef="", EcritureLib="A nouveau"),
        line(JournalCode="OD", PieceRef="", EcritureLib="´a nouveau", Debit="0,00"),
        line(PieceRef="AN2024", EcritureLib="Report à nouveau", Credit="50,00"),
        line(
            JournalCode="OD",
            PieceRef="VIR-1",
            EcritureLib="Virement reçu",
            Debit="0,00",
            Credit="30,00",
        ),
        line(
            JournalCode="OD",
            PieceRef="AV-1",
            EcritureLib="Avoir",
            Debit="0,00",
            Credit="20,00",
        ),
        line(
            PieceRef="FA-FULLWIDTH",
            EcritureLib="ｒｅｇｌｅｍｅｎｔ",
            Debit="0,00",
            Credit="5,00",
        ),
        line(CompteNum="401000", PieceRef="FOURNISSEUR"),
        line(CompteNum="", PieceRef="NO-ACCOUNT"),
        line(PieceRef=""),
        line(PieceRef="FA-NUL", JournalLib="Ven\x00tes"),
    ]
    texts = [text_of(fields, separator) for fields in plain + unusual]
    texts += [
        text_of(line(PieceRef="FA-TRAILING"), separator) + separator,
        text_of(line(PieceRef="FA-TRAILING-2"), separator) + separator * 2,
        text_of(line(PieceRef="FA-EXTRA"), separator) + separator + "x",
        separator.join(FEC_COLUMNS[:5]),
        "",
        "   ",
        separator * 17,
        "\ufeff" + text_of(line(PieceRef="FA-BOM"), separator),
    ]
    return texts


def write(path, lines: list[str], separator: str, newline: str) -> None:
    text = newline.join([separator.join(FEC_COLUMNS), *lines]) + newline
    path.write_bytes(text.encode("utf-8"))


def read(path, **options):
    result = read_fec(path, as_of=AS_OF, **options)
    records = [repr(record) for record in result]
    return records, result.stats


@pytest.mark.parametrize("separator", ["\t", "|"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
@pytest.mark.parametrize("block_bytes", [None, 700])
def test_column_checks_match_line_parser(
    tmp_path, monkeypatch, separator, newline, block_bytes
):
    path = tmp_path / "fec.txt"
    write(path, tricky_lines(separator), separator, newline)
    options = {
        "due_dates": {"FA-10": dt.date(2023, 12, 1), "FA-11": dt.date(2024, 4, 30)},
        "team_of": {"C001": "north"},
        "credit_exceeds_debt": "reject",
    }
    monkeypatch.setattr(fec_text, "BLOCK_BYTES", block_bytes or fec_text.BLOCK_BYTES)
    by_columns, column_stats = read(path, **options)

    monkeypatch.setattr(fec, "supports_encoding", lambda encoding: False)
    by_lines, line_stats = read(path, **options)

    assert by_columns == by_lines
    assert column_stats == line_stats
    assert column_stats.lines_rejected > 10
    assert column_stats.items > 30


def test_plain_lines_not_parsed_one_by_one(tmp_path, monkeypatch):
    path = tmp_path / "fec.txt"
    # A NUL byte sends its whole block to the parser, so it is left out here.
    lines = [text for text in tricky_lines("\t") if "\x00" not in text]
    write(path, lines, "\t", "\r\n")
    parsed: list[int] = []
    parse_line = fec._read_line

    def spy(number, *args):
        parsed.append(number)
        return parse_line(number, *args)

    monkeypatch.setattr(fec, "_read_line", spy)
    read(path)

    plain_lines = range(2, 32)
    assert not set(parsed) & set(plain_lines)


def settings(separator: str) -> dict:
    return {
        "encoding": "utf-8-sig",
        "separator": separator,
        "account_prefixes": ["411"],
    }


def test_file_totals_trailing_separator_first(tmp_path):
    path = tmp_path / "fec.txt"
    lines = [
        text_of(line(PieceRef="FA-1"), "\t") + "\t",
        text_of(line(PieceRef="FA-2"), "\t"),
    ]
    write(path, lines, "\t", "\r\n")

    totals = file_totals.fec_totals(path, AS_OF, settings("\t"), file_totals.Excluded())

    assert totals.customers["C001"].open_count == 2
    assert totals.customers["C001"].open_cents == 240000


def test_file_totals_no_line_left(tmp_path):
    path = tmp_path / "fec.txt"
    write(path, [text_of(line(), "\t")], "\t", "\r\n")
    excluded = file_totals.Excluded(lines=frozenset({2}))

    totals = file_totals.fec_totals(path, AS_OF, settings("\t"), excluded)

    assert totals.customers == {}
    assert totals.ageing(AS_OF)["1-30"] == {"count": 0, "cents": 0}
