"""FEC reader tests.

The files follow the layout of article A47 A-1 of the Livre des procédures fiscales.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from migration.messages import ReaderError
from migration.readers.fec import read_fec
from migration.records import ItemKind, LegacyItem, Rejection

AS_OF = dt.date(2024, 3, 31)
COLUMNS = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
]
NAMES = {
    "C001": "Société Générale d'Électricité",
    "C002": "Dupont & Fils",
    "C003": "Martin",
    "C004": "Lefèvre & Sœurs",
}
JOURNALS = {
    "VT": "Ventes",
    "BQ1": "Banque",
    "AN": "A nouveaux",
    "OD": "Opérations diverses",
}


def entry(
    journal: str,
    number: str,
    date: str,
    account: str,
    aux: str,
    ref: str,
    label: str,
    debit: str,
    credit: str,
    letter: str = "",
    letter_date: str = "",
    *,
    piece_date: str | None = None,
    account_name: str = "Clients",
) -> list[str]:
    """Return one FEC line as its 18 fields."""
    values = {
        "JournalCode": journal,
        "JournalLib": JOURNALS.get(journal, journal),
        "EcritureNum": number,
        "EcritureDate": date,
        "CompteNum": account,
        "CompteLib": account_name,
        "CompAuxNum": aux,
        "CompAuxLib": NAMES.get(aux, ""),
        "PieceRef": ref,
        "PieceDate": date if piece_date is None else piece_date,
        "EcritureLib": label,
        "Debit": debit,
        "Credit": credit,
        "EcritureLet": letter,
        "DateLet": letter_date,
        "ValidDate": date,
        "Montantdevise": "",
        "Idevise": "",
    }
    return [values[column] for column in COLUMNS]


def write_fec(
    path: Path,
    lines: list[list[str]],
    *,
    separator: str = "\t",
    encoding: str = "utf-8",
    bom: bool = False,
    header: list[str] = COLUMNS,
) -> Path:
    text = "".join(separator.join(fields) + "\r\n" for fields in [header, *lines])
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


# Line numbers in the file are the list position + 2, because the header is line 1.
LEDGER = [
    entry(
        "VT",
        "1",
        "20240110",
        "411000",
        "C001",
        "FA-001",
        "Facture FA-001",
        "1200,00",
        "0,00",
        "AA",
        "20240220",
    ),
    entry(
        "BQ1",
        "2",
        "20240220",
        "411000",
        "C001",
        "RG-001",
        "Règlement FA-001",
        "0,00",
        "1200,00",
        "AA",
        "20240220",
    ),
    entry(
        "VT",
        "3",
        "20240215",
        "411000",
        "C001",
        "FA-002",
        "Facture FA-002",
        "000002400,50",
        "0,00",
    ),
    entry(
        "VT",
        "4",
        "20240301",
        "411000",
        "C001",
        "FA-003",
        "Facture FA-003",
        "500,00",
        "0,00",
        "AB",
        "20240410",
    ),
    entry(
        "BQ1",
        "9",
        "20240410",
        "411000",
        "C001",
        "RG-003",
        "Règlement FA-003",
        "0,00",
        "500,00",
        "AB",
        "20240410",
    ),
    entry("AN", "1", "20240101", "411000", "C002", "AN", "A nouveau", "800,00", "0,00"),
    entry("AN", "2", "20240101", "411000", "C002", "", "À nouveau", "0,00", "300,00"),
    entry(
        "AN",
        "3",
        "20240101",
        "411000",
        "C002",
        "FA-2023-099",
        "Report à nouveau FA-2023-099",
        "150,00",
        "0,00",
        piece_date="20231215",
    ),
    entry(
        "VT",
        "5",
        "20240305",
        "411000",
        "C003",
        "FA-010",
        "Facture FA-010",
        "100,00",
        "0,00",
    ),
    entry(
        "VT",
        "6",
        "20240306",
        "411000",
        "C003",
        "AV-001",
        "Avoir remise",
        "0,00",
        "250,00",
    ),
    entry(
        "OD",
        "7",
        "20240307",
        "411000",
        "C003",
        "VIR-77",
        "Virement reçu",
        "0,00",
        "40,00",
    ),
    entry(
        "VT",
        "8",
        "20240310",
        "411DUR",
        "",
        "FA-020",
        "Facture FA-020",
        "75,00",
        "0,00",
        account_name="Durand SARL",
    ),
    entry(
        "VT",
        "1",
        "20240110",
        "706000",
        "",
        "FA-001",
        "Ventes",
        "0,00",
        "1000,00",
        account_name="Ventes de produits",
    ),
    entry(
        "VT",
        "1",
        "20240110",
        "445710",
        "",
        "FA-001",
        "TVA collectée",
        "0,00",
        "200,00",
        account_name="TVA",
    ),
    entry(
        "VT",
        "10",
        "20240320",
        "411000",
        "C004",
        "FA-030",
        "Facture FA-030 marchandises",
        "100,00",
        "0,00",
    ),
    entry(
        "VT",
        "10",
        "20240320",
        "411000",
        "C004",
        "FA-030",
        "Facture FA-030 port",
        "20,00",
        "0,00",
    ),
]

D = dt.date
# (line, legacy_id, customer, kind, document, issue, due, amount, settled, is_credit)
EXPECTED_LEDGER = [
    (
        2,
        "fec:C001:FA-001:D",
        "C001",
        ItemKind.INVOICE,
        "FA-001",
        D(2024, 1, 10),
        D(2024, 2, 9),
        "1200.00",
        D(2024, 2, 20),
        False,
    ),
    (
        3,
        "fec:C001:RG-001:C",
        "C001",
        ItemKind.PAYMENT,
        "RG-001",
        D(2024, 2, 20),
        D(2024, 2, 20),
        "1200.00",
        D(2024, 2, 20),
        True,
    ),
    (
        4,
        "fec:C001:FA-002:D",
        "C001",
        ItemKind.INVOICE,
        "FA-002",
        D(2024, 2, 15),
        D(2024, 3, 16),
        "2400.50",
        None,
        False,
    ),
    (
        5,
        "fec:C001:FA-003:D",
        "C001",
        ItemKind.INVOICE,
        "FA-003",
        D(2024, 3, 1),
        D(2024, 3, 31),
        "500.00",
        None,
        False,
    ),
    (
        7,
        "fec:C002:opening:20240101",
        "C002",
        ItemKind.OPENING,
        "AN",
        D(2024, 1, 1),
        D(2024, 1, 1),
        "500.00",
        None,
        False,
    ),
    (
        9,
        "fec:C002:FA-2023-099:D",
        "C002",
        ItemKind.INVOICE,
        "FA-2023-099",
        D(2023, 12, 15),
        D(2024, 1, 14),
        "150.00",
        None,
        False,
    ),
    (
        10,
        "fec:C003:FA-010:D",
        "C003",
        ItemKind.INVOICE,
        "FA-010",
        D(2024, 3, 5),
        D(2024, 4, 4),
        "100.00",
        None,
        False,
    ),
    (
        11,
        "fec:C003:AV-001:C",
        "C003",
        ItemKind.CREDIT_NOTE,
        "AV-001",
        D(2024, 3, 6),
        D(2024, 3, 6),
        "250.00",
        None,
        True,
    ),
    (
        12,
        "fec:C003:VIR-77:C",
        "C003",
        ItemKind.PAYMENT,
        "VIR-77",
        D(2024, 3, 7),
        D(2024, 3, 7),
        "40.00",
        None,
        True,
    ),
    (
        13,
        "fec:411DUR:FA-020:D",
        "411DUR",
        ItemKind.INVOICE,
        "FA-020",
        D(2024, 3, 10),
        D(2024, 4, 9),
        "75.00",
        None,
        False,
    ),
    (
        16,
        "fec:C004:FA-030:D",
        "C004",
        ItemKind.INVOICE,
        "FA-030",
        D(2024, 3, 20),
        D(2024, 4, 19),
        "120.00",
        None,
        False,
    ),
]


def summary(item: LegacyItem) -> tuple:
    return (
        item.line,
        item.legacy_id,
        item.customer_legacy_id,
        item.kind,
        item.document,
        item.issue_date,
        item.due_date,
        str(item.amount),
        item.settled_date,
        item.is_credit,
    )


def read_all(path: Path, **options) -> tuple[list[LegacyItem], list[Rejection], object]:
    result = read_fec(path, as_of=AS_OF, **options)
    items, rejections = result.split()
    return items, rejections, result


def test_fec_tab_utf8_items(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_LEDGER


def test_fec_customer_names(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, _, _ = read_all(path)

    names = {item.customer_legacy_id: item.customer_name for item in items}
    assert names == {
        "C001": "Société Générale d'Électricité",
        "C002": "Dupont & Fils",
        "C003": "Martin",
        "411DUR": "Durand SARL",
        "C004": "Lefèvre & Sœurs",
    }


def test_fec_stats(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    _, _, result = read_all(path)

    stats = result.stats
    assert stats.lines_read == 16
    assert stats.lines_blank == 0
    assert stats.lines_ignored_not_receivable == 2
    assert stats.lines_skipped_after_as_of == 1
    assert stats.lines_rejected == 0
    assert stats.lines_accepted == 13
    assert stats.lines_merged == 1
    assert stats.opening_lines == 2
    assert stats.items == 11
    assert stats.rejections == 0
    assert stats.due_dates_from_term == 7
    assert stats.due_dates_from_file == 0


def test_fec_open_totals(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, _, _ = read_all(path)

    open_items = [item for item in items if item.settled_date is None]
    open_debits = sum(item.amount for item in open_items if not item.is_credit)
    open_credits = sum(item.amount for item in open_items if item.is_credit)
    assert open_debits == Decimal("3845.50")
    assert open_credits == Decimal("290.00")


def test_fec_detected_tab_utf8(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    result = read_fec(path, as_of=AS_OF)

    assert result.detected.settings["separator"].value == "tab"
    assert result.detected.settings["encoding"].value == "utf-8-sig"
    assert result.detected.settings["encoding"].note == "UTF-8 without BOM"
    assert result.detected.columns == tuple(COLUMNS)


def test_fec_pipe_iso_8859_15(tmp_path):
    path = write_fec(
        tmp_path / "fec.txt", LEDGER, separator="|", encoding="iso-8859-15"
    )

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_LEDGER
    assert items[-1].customer_name == "Lefèvre & Sœurs"
    assert items[0].customer_name == "Société Générale d'Électricité"
    assert result.detected.settings["separator"].value == "|"
    assert result.detected.settings["encoding"].value == "iso8859-15"


def test_fec_utf8_with_bom(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER, bom=True)

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_LEDGER
    assert items[0].customer_name == "Société Générale d'Électricité"
    assert result.detected.settings["encoding"].note == "UTF-8 with BOM"


def test_fec_declared_utf8_drops_bom(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER, bom=True)

    items, rejections, result = read_all(path, encoding="utf-8")

    assert rejections == []
    assert len(items) == 11
    assert result.detected.settings["encoding"].source == "profile"


def test_fec_cp1252_detected_from_c1_bytes(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER, encoding="cp1252")

    items, _, result = read_all(path)

    assert result.detected.settings["encoding"].value == "cp1252"
    assert items[-1].customer_name == "Lefèvre & Sœurs"


def test_fec_declared_encoding_mismatch(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER, encoding="iso-8859-15")

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF, encoding="utf-8").split()

    assert caught.value.code == "encoding_invalid"
    assert "not valid utf-8-sig text" in str(caught.value)


def test_fec_wrong_header(tmp_path):
    header = [*COLUMNS[:4], "CompteNumero", *COLUMNS[5:17]]
    path = write_fec(tmp_path / "fec.txt", [], header=header)

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF)

    assert caught.value.code == "header_columns"
    assert caught.value.params["missing"] == ["CompteNum", "Idevise"]
    message = str(caught.value)
    assert "missing CompteNum, Idevise" in message
    assert (
        "found JournalCode, JournalLib, EcritureNum, EcritureDate, CompteNumero"
        in message
    )
    assert "expected the 18 columns JournalCode, JournalLib" in message


def test_fec_header_case_and_extra_columns(tmp_path):
    header = [column.upper() for column in COLUMNS] + ["DateRglt"]
    lines = [[*fields, "20240301"] for fields in LEDGER]
    path = write_fec(tmp_path / "fec.txt", lines, header=header)

    items, rejections, _ = read_all(path)

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_LEDGER


def test_fec_semicolon_header_rejected(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER, separator=";")

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF)

    assert caught.value.code == "separator_undetected"
    assert "expected one of tab, |" in str(caught.value)


def test_fec_empty_file(tmp_path):
    path = tmp_path / "fec.txt"
    path.write_bytes(b"")

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF)

    assert caught.value.code == "file_empty"


def test_fec_trailing_separator_and_blank_line(tmp_path):
    path = tmp_path / "fec.txt"
    lines = ["\t".join(COLUMNS) + "\t"]
    lines += ["\t".join(fields) + "\t" for fields in LEDGER[:4]]
    lines.insert(3, "")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [(item.line, item.document) for item in items] == [
        (2, "FA-001"),
        (3, "RG-001"),
        (5, "FA-002"),
        (6, "FA-003"),
    ]
    assert result.stats.lines_blank == 1
    assert result.stats.lines_read == 4


def test_fec_payment_term_45_days_end_of_month(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, _, _ = read_all(path, payment_term="45 days end of month")

    due_dates = {
        item.document: item.due_date for item in items if item.kind == "invoice"
    }
    assert due_dates == {
        "FA-001": D(2024, 2, 29),
        "FA-002": D(2024, 3, 31),
        "FA-003": D(2024, 4, 30),
        "FA-2023-099": D(2024, 1, 31),
        "FA-010": D(2024, 4, 30),
        "FA-020": D(2024, 4, 30),
        "FA-030": D(2024, 5, 31),
    }


def test_fec_payment_term_60_days(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER[:1])

    items, _, _ = read_all(path, payment_term="60 days")

    assert items[0].due_date == D(2024, 3, 10)


def test_fec_due_dates_file(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)
    due_file = tmp_path / "due.csv"
    due_file.write_text(
        "PieceRef;DueDate\r\nFA-002;30/04/2024\r\nFA-010;15/04/2024\r\n"
    )

    items, rejections, result = read_all(path, due_dates=due_file)

    due_dates = {item.document: item.due_date for item in items}
    assert rejections == []
    assert due_dates["FA-002"] == D(2024, 4, 30)
    assert due_dates["FA-010"] == D(2024, 4, 15)
    assert due_dates["FA-003"] == D(2024, 3, 31)
    assert result.stats.due_dates_from_file == 2
    assert result.stats.due_dates_from_term == 5


def test_fec_due_dates_file_in_fec_date_format(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)
    due_file = tmp_path / "due.csv"
    due_file.write_text("FA-002,20240430\n")

    items, _, _ = read_all(path, due_dates=due_file)

    assert {item.document: item.due_date for item in items}["FA-002"] == D(2024, 4, 30)


def test_fec_due_dates_file_invalid_date(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)
    due_file = tmp_path / "due.csv"
    due_file.write_text("PieceRef;DueDate\nFA-002;30/04/2024\nFA-010;31/02/2024\n")

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF, due_dates=due_file)

    assert caught.value.code == "due_dates_invalid"
    assert str(caught.value) == (
        f'due-dates file {due_file}, line 3, value "31/02/2024": date does not exist '
        "in the calendar; expected a real date in the format DD/MM/YYYY, as in "
        "31/01/2024; expected lines of PieceRef and DueDate such as FA-0001;31/01/2024"
    )


def test_fec_due_dates_file_duplicate(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)
    due_file = tmp_path / "due.csv"
    due_file.write_text("FA-002;30/04/2024\nFA-002;30/05/2024\n")

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF, due_dates=due_file)

    assert "line 2" in str(caught.value)
    assert "PieceRef FA-002 already has a due date on line 1" in str(caught.value)


def test_fec_due_date_before_issue(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, rejections, _ = read_all(path, due_dates={"FA-003": D(2024, 2, 1)})

    assert rejections == [
        Rejection(
            5,
            "DueDate",
            "20240201",
            "date is before the PieceDate 20240301; expected a date on or after it",
        )
    ]
    assert "FA-003" not in {item.document for item in items}


def test_fec_credit_exceeds_debt_rejected(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, rejections, result = read_all(path, credit_exceeds_debt="reject")

    reason = (
        "credit larger than the customer's debt: customer C003 has open credits of "
        "290,00 and open debits of 100,00; expected credits no larger than debits, or "
        "the option credit_exceeds_debt set to allow"
    )
    assert rejections == [
        Rejection(11, "Credit", "250,00", reason),
        Rejection(12, "Credit", "40,00", reason),
    ]
    assert len(items) == 9
    assert result.stats.credits_rejected_over_debt == 2


def test_fec_customer_in_credit_allowed(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    items, rejections, _ = read_all(path)

    customer = [item for item in items if item.customer_legacy_id == "C003"]
    assert rejections == []
    assert [(item.document, item.is_credit) for item in customer] == [
        ("FA-010", False),
        ("AV-001", True),
        ("VIR-77", True),
    ]


def test_fec_invalid_credit_option(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF, credit_exceeds_debt="maybe")

    assert str(caught.value) == (
        "option credit_exceeds_debt is maybe; expected allow or reject"
    )


def test_fec_invalid_payment_term(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    with pytest.raises(ReaderError) as caught:
        read_fec(path, as_of=AS_OF, payment_term="net 30")

    assert caught.value.code == "payment_term_invalid"


def test_fec_letter_without_date_let(tmp_path):
    lines = [
        entry(
            "VT",
            "1",
            "20240105",
            "411000",
            "C010",
            "FA-100",
            "Facture",
            "300,00",
            "0,00",
            "AC",
        ),
        entry(
            "BQ1",
            "2",
            "20240305",
            "411000",
            "C010",
            "RG-100",
            "Virement",
            "0,00",
            "300,00",
            "AC",
        ),
        entry(
            "VT",
            "3",
            "20240110",
            "411000",
            "C010",
            "FA-101",
            "Facture",
            "200,00",
            "0,00",
            "AD",
        ),
        entry(
            "BQ1",
            "4",
            "20240405",
            "411000",
            "C010",
            "RG-101",
            "Virement",
            "0,00",
            "200,00",
            "AD",
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [(item.document, item.settled_date) for item in items] == [
        ("FA-100", D(2024, 3, 5)),
        ("RG-100", D(2024, 3, 5)),
        ("FA-101", None),
    ]
    assert result.stats.lines_skipped_after_as_of == 1


def test_fec_opening_credit_balance(tmp_path):
    lines = [
        entry(
            "AN", "1", "20240101", "411000", "C020", "AN", "A nouveau", "0,00", "90,00"
        ),
        entry(
            "OD",
            "2",
            "20240101",
            "411000",
            "C021",
            "",
            "REPORT A NOUVEAU",
            "60,00",
            "0,00",
        ),
        entry(
            "RAN",
            "3",
            "20240101",
            "411000",
            "C022",
            "RAN2024",
            "Solde",
            "45,00",
            "0,00",
        ),
        entry(
            "AN", "4", "20240101", "411000", "C023", "AN", "A nouveau", "10,00", "0,00"
        ),
        entry(
            "AN", "5", "20240101", "411000", "C023", "AN", "A nouveau", "0,00", "10,00"
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, rejections, result = read_all(path)

    assert rejections == []
    assert [
        (item.customer_legacy_id, item.kind, str(item.amount), item.is_credit)
        for item in items
    ] == [
        ("C020", ItemKind.OPENING, "90.00", True),
        ("C021", ItemKind.OPENING, "60.00", False),
        ("C022", ItemKind.OPENING, "45.00", False),
    ]
    assert result.stats.opening_balances_zero == 1
    assert result.stats.opening_lines == 5


def test_fec_settled_opening(tmp_path):
    lines = [
        entry(
            "AN",
            "1",
            "20240101",
            "411000",
            "C030",
            "AN",
            "A nouveau",
            "70,00",
            "0,00",
            "AE",
            "20240115",
        ),
        entry(
            "BQ1",
            "2",
            "20240115",
            "411000",
            "C030",
            "RG-9",
            "Chèque",
            "0,00",
            "70,00",
            "AE",
            "20240115",
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, _, _ = read_all(path)

    assert [(item.kind, item.settled_date) for item in items] == [
        (ItemKind.OPENING, D(2024, 1, 15)),
        (ItemKind.PAYMENT, D(2024, 1, 15)),
    ]


def test_fec_negative_amount_is_other_side(tmp_path):
    lines = [
        entry(
            "VT",
            "1",
            "20240105",
            "411000",
            "C040",
            "AV-9",
            "Annulation",
            "-50,00",
            "0,00",
        ),
        entry(
            "VT",
            "2",
            "20240106",
            "411000",
            "C040",
            "AV-10",
            "Annulation",
            "50,00-",
            "0,00",
        ),
        entry(
            "VT",
            "3",
            "20240107",
            "411000",
            "C040",
            "FA-11",
            "Facture",
            "0,00",
            "-20,00",
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, _, _ = read_all(path)

    assert [(item.legacy_id, item.kind, str(item.amount)) for item in items] == [
        ("fec:C040:AV-9:C", ItemKind.CREDIT_NOTE, "50.00"),
        ("fec:C040:AV-10:C", ItemKind.CREDIT_NOTE, "50.00"),
        ("fec:C040:FA-11:D", ItemKind.INVOICE, "20.00"),
    ]


def test_fec_legacy_ids_stable_across_exports(tmp_path):
    first = write_fec(tmp_path / "first.txt", LEDGER)
    renumbered = [
        [*fields[:2], f"X{index}", *fields[3:]] for index, fields in enumerate(LEDGER)
    ]
    second = write_fec(tmp_path / "second.txt", list(reversed(renumbered)))

    first_items, _, _ = read_all(first)
    second_items, _, _ = read_all(second)

    def by_id(items):
        return {item.legacy_id: (item.amount, item.settled_date) for item in items}

    assert by_id(first_items) == by_id(second_items)
    assert len({item.legacy_id for item in first_items}) == 11


def test_fec_legacy_id_escapes_colons(tmp_path):
    lines = [
        entry(
            "VT", "1", "20240105", "411000", "C:1", "FA:1", "Facture", "10,00", "0,00"
        )
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, _, _ = read_all(path)

    assert items[0].legacy_id == "fec:C%3A1:FA%3A1:D"


def test_fec_account_prefixes_and_teams(tmp_path):
    lines = [
        entry(
            "VT", "1", "20240105", "411000", "C001", "FA-1", "Facture", "10,00", "0,00"
        ),
        entry(
            "OD", "2", "20240106", "416000", "C002", "FA-2", "Douteux", "20,00", "0,00"
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    only_411, _, _ = read_all(path)
    both, _, _ = read_all(path, account_prefix=("411", "416"), team_of={"C001": "Nord"})
    by_callable, _, _ = read_all(path, team_of=lambda customer: f"team-{customer}")

    assert [item.document for item in only_411] == ["FA-1"]
    assert [(item.document, item.team) for item in both] == [
        ("FA-1", "Nord"),
        ("FA-2", None),
    ]
    assert [item.team for item in by_callable] == ["team-C001"]


def test_fec_rejections(tmp_path):
    short_line = entry(
        "VT", "30", "20240115", "411000", "C001", "FA-300", "Facture", "1,00", "0,00"
    )[:17]
    lines = [
        entry(
            "VT",
            "11",
            "20240115",
            "411000",
            "C001",
            "FA-101",
            "Facture",
            "12,3,4",
            "0,00",
        ),
        entry(
            "VT",
            "12",
            "20240115",
            "411000",
            "C001",
            "FA-102",
            "Facture",
            "100,00",
            "50,00",
        ),
        entry(
            "VT",
            "13",
            "20240115",
            "411000",
            "C001",
            "FA-103",
            "Facture",
            "0,00",
            "0,00",
        ),
        entry(
            "VT",
            "14",
            "20240231",
            "411000",
            "C001",
            "FA-104",
            "Facture",
            "1,00",
            "0,00",
            piece_date="20240201",
        ),
        entry(
            "VT",
            "15",
            "19850101",
            "411000",
            "C001",
            "FA-105",
            "Facture",
            "1,00",
            "0,00",
            piece_date="20240101",
        ),
        entry("VT", "16", "20240115", "", "C001", "FA-106", "Facture", "1,00", "0,00"),
        entry("VT", "17", "20240115", "411000", "C001", "", "Facture", "1,00", "0,00"),
        entry(
            "VT",
            "18",
            "",
            "411000",
            "C001",
            "FA-108",
            "Facture",
            "1,00",
            "0,00",
            piece_date="20240110",
        ),
        entry(
            "VT",
            "20",
            "20240115",
            "411000",
            "C001",
            "FA-200",
            "Facture",
            "100,00",
            "0,00",
        ),
        entry(
            "VT",
            "20",
            "20240115",
            "411000",
            "C001",
            "FA-200",
            "Facture",
            "0100,00",
            "0,00",
        ),
        entry(
            "VT",
            "21",
            "20240115",
            "411000",
            "C001",
            "FA-210",
            "Facture",
            "1,00",
            "0,00",
            "ZZ",
            "20240101",
        ),
        short_line,
        entry(
            "VT",
            "22",
            "20240115",
            "411000",
            "C001",
            "FA-220",
            "Facture",
            "1,00",
            "0,00",
            piece_date="2024-01-15",
        ),
        entry("VT", "23", "20240115", "706000", "", "FA-230", "Ventes", "n/a", "0,00"),
        entry(
            "VT",
            "24",
            "20240115",
            "411000",
            "C001",
            "FA-240",
            "Facture",
            "abc",
            "0,00",
            "ZY",
            "20241301",
        ),
    ]
    path = write_fec(tmp_path / "fec.txt", lines)

    items, rejections, result = read_all(path)

    assert [(r.line, r.field, r.value, r.reason) for r in rejections] == [
        (
            2,
            "Debit",
            "12,3,4",
            "amount is unreadable; expected a number such as 1234,56",
        ),
        (
            3,
            "Debit",
            "100,00",
            "line has both a debit (100,00) and a credit (50,00); expected an amount "
            "in only one of Debit and Credit",
        ),
        (
            4,
            "Debit",
            "0,00",
            "Debit and Credit are both zero; expected an amount in one of them",
        ),
        (
            5,
            "EcritureDate",
            "20240231",
            "date does not exist in the calendar; expected a real date in the format "
            "YYYYMMDD, as in 20240131",
        ),
        (
            6,
            "EcritureDate",
            "19850101",
            "date is outside the accepted range; expected a year from 1990 to 2100",
        ),
        (7, "CompteNum", "", "value is missing; column CompteNum is required"),
        (8, "PieceRef", "", "value is missing; column PieceRef is required"),
        (9, "EcritureDate", "", "value is missing; column EcritureDate is required"),
        (
            11,
            "(whole line)",
            "20",
            "line repeats line 10 (same JournalCode, EcritureNum, CompteNum, PieceRef, "
            "Debit, Credit); expected each entry once",
        ),
        (
            12,
            "DateLet",
            "20240101",
            "date is before the EcritureDate 20240115; expected a date on or after it",
        ),
        (
            13,
            "(whole line)",
            "\t".join(short_line),
            "line has 17 fields; expected 18 fields separated by tab",
        ),
        (
            14,
            "PieceDate",
            "2024-01-15",
            "date is unreadable; expected the format YYYYMMDD, as in 20240131",
        ),
        (16, "Debit", "abc", "amount is unreadable; expected a number such as 1234,56"),
        (
            16,
            "DateLet",
            "20241301",
            "date does not exist in the calendar; expected a real date in the format "
            "YYYYMMDD, as in 20240131",
        ),
    ]
    assert [item.document for item in items] == ["FA-200"]
    assert result.stats.lines_read == 15
    assert result.stats.lines_ignored_not_receivable == 1
    assert result.stats.lines_rejected == 13
    assert result.stats.lines_accepted == 1
    assert result.stats.rejections == 14


def test_fec_stats_buckets_add_up(tmp_path):
    path = write_fec(tmp_path / "fec.txt", LEDGER)

    _, _, result = read_all(path)

    stats = result.stats
    buckets = (
        stats.lines_ignored_not_receivable
        + stats.lines_skipped_after_as_of
        + stats.lines_rejected
        + stats.lines_accepted
    )
    assert buckets == stats.lines_read
