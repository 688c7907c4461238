"""Mapped reader: a French CSV export and an Excel export described by a mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from migration.messages import ReaderError
from migration.readers.mapped import detect_format, load_mapping, read_mapped
from migration.records import ItemKind, LegacyItem, Rejection

AS_OF = dt.date(2024, 3, 31)
D = dt.date
PROFILES = Path(__file__).resolve().parents[2] / "migration" / "profiles"

FRENCH_CSV = """\
Code client;Raison sociale;N° facture;Type;Date facture;Echéance;Montant TTC;Reste dû;Date règlement;Litige;Equipe;Pays
C001;Société Générale d'Électricité;F001;FA;15/01/2024;14/02/2024;1 234,56;0,00;10/02/2024;;Nord;FR
C001;Société Générale d'Électricité;F002;FA;20/02/2024;21/03/2024;2 000,00;2 000,00;;oui;Nord;FR
C002;Café Müller;F003;FA;01/03/2024;31/03/2024;1 000,00;400,00;;;Sud;BE
C002;Café Müller;A001;AV;05/03/2024;;-150,00;-150,00;;;Sud;BE
C003;Dupont;F004;FA;10/04/2024;10/05/2024;500,00;500,00;;;;
C003;Dupont;F005;FA;12/03/2024;;300,00;0,00;;;;
C001;Société Générale d'Électricité;F006;FA;25/03/2024;24/04/2024;99,99;99,99;05/04/2024;;Nord;FR
"""  # noqa: E501
FRENCH_MAPPING = {
    "columns": {
        "customer_id": "Code client",
        "customer_name": "Raison sociale",
        "invoice_number": "N° facture",
        "kind": "Type",
        "issue_date": "Date facture",
        "due_date": "Echéance",
        "amount": "Montant TTC",
        "open_amount": "Reste dû",
        "settled_date": "Date règlement",
        "disputed": "Litige",
        "team": "Equipe",
        "country": "Pays",
    },
    "kind_values": {"FA": "invoice", "AV": "credit_note", "RG": "payment"},
    "disputed_values": ["oui"],
    "payment_term": "30 days",
}
# (line, legacy_id, kind, document, issue, due, amount, settled, is_credit, disputed)
EXPECTED_FRENCH = [
    (
        2,
        "mapped:C001:invoice:F001",
        ItemKind.INVOICE,
        "F001",
        D(2024, 1, 15),
        D(2024, 2, 14),
        "1234.56",
        D(2024, 2, 10),
        False,
        False,
    ),
    (
        3,
        "mapped:C001:invoice:F002",
        ItemKind.INVOICE,
        "F002",
        D(2024, 2, 20),
        D(2024, 3, 21),
        "2000.00",
        None,
        False,
        True,
    ),
    (
        4,
        "mapped:C002:invoice:F003",
        ItemKind.INVOICE,
        "F003",
        D(2024, 3, 1),
        D(2024, 3, 31),
        "1000.00",
        None,
        False,
        False,
    ),
    (
        4,
        "mapped:C002:invoice:F003:paid",
        ItemKind.PAYMENT,
        "F003",
        D(2024, 3, 31),
        D(2024, 3, 31),
        "600.00",
        None,
        True,
        False,
    ),
    (
        5,
        "mapped:C002:credit_note:A001",
        ItemKind.CREDIT_NOTE,
        "A001",
        D(2024, 3, 5),
        D(2024, 3, 5),
        "150.00",
        None,
        True,
        False,
    ),
    (
        7,
        "mapped:C003:invoice:F005",
        ItemKind.INVOICE,
        "F005",
        D(2024, 3, 12),
        D(2024, 4, 11),
        "300.00",
        D(2024, 3, 31),
        False,
        False,
    ),
    (
        8,
        "mapped:C001:invoice:F006",
        ItemKind.INVOICE,
        "F006",
        D(2024, 3, 25),
        D(2024, 4, 24),
        "99.99",
        None,
        False,
        False,
    ),
]


def summary(item: LegacyItem) -> tuple:
    return (
        item.line,
        item.legacy_id,
        item.kind,
        item.document,
        item.issue_date,
        item.due_date,
        str(item.amount),
        item.settled_date,
        item.is_credit,
        item.disputed,
    )


def write_csv(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def test_french_csv_items(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    items, rejections = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF).split()

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_FRENCH


def test_french_csv_customer_fields(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    items, _ = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF).split()

    customers = {
        item.customer_legacy_id: (
            item.customer_name,
            item.team,
            item.country,
            item.currency,
        )
        for item in items
    }
    assert customers == {
        "C001": ("Société Générale d'Électricité", "Nord", "FR", "EUR"),
        "C002": ("Café Müller", "Sud", "BE", "EUR"),
        "C003": ("Dupont", None, None, "EUR"),
    }


def test_french_csv_totals(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    items, _ = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF).split()

    open_items = [item for item in items if item.settled_date is None]
    settled = [item for item in items if item.settled_date is not None]
    assert sum(i.amount for i in open_items if not i.is_credit) == Decimal("3099.99")
    assert sum(i.amount for i in open_items if i.is_credit) == Decimal("750.00")
    assert sum(i.amount for i in settled) == Decimal("1534.56")


def test_french_csv_stats(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    result = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF)

    result.split()

    stats = result.stats
    assert stats.lines_read == 7
    assert stats.lines_blank == 0
    assert stats.lines_skipped_after_as_of == 1
    assert stats.lines_rejected == 0
    assert stats.lines_accepted == 6
    assert stats.items == 7
    assert stats.partial_payments == 1
    assert stats.settled_dates_assumed == 1
    assert stats.due_dates_from_term == 1


def test_french_csv_detection(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    detected = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF).detected

    settings = detected.settings
    assert detected.file_type == "csv"
    assert (settings["encoding"].value, settings["encoding"].source) == (
        "cp1252",
        "detected",
    )
    assert settings["encoding"].note == "not UTF-8, so read as cp1252"
    assert (settings["separator"].value, settings["separator"].source) == (
        ";",
        "detected",
    )
    assert (settings["decimal"].value, settings["decimal"].note) == (",", None)
    assert settings["thousands"].value == " "
    assert (settings["date_format"].value, settings["date_format"].note) == (
        "%d/%m/%Y",
        None,
    )
    assert detected.columns[2] == "N° facture"


def test_detect_format_without_mapping(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    detected = detect_format(path)

    assert detected.settings["decimal"].value == ","
    assert detected.settings["thousands"].value == " "
    assert detected.settings["date_format"].value == "%d/%m/%Y"
    assert str(detected).splitlines() == [
        f"{path} (csv)",
        "  encoding: 'cp1252' (detected): not UTF-8, so read as cp1252",
        "  separator: ';' (detected)",
        "  decimal: ',' (detected)",
        "  thousands: ' ' (detected)",
        "  date_format: '%d/%m/%Y' (detected)",
        "  columns: Code client, Raison sociale, N° facture, Type, Date facture, "
        "Echéance, Montant TTC, Reste dû, Date règlement, Litige, Equipe, Pays",
    ]


def test_french_csv_utf8_with_bom(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + FRENCH_CSV.encode())

    result = read_mapped(path, FRENCH_MAPPING, as_of=AS_OF)
    items, rejections = result.split()

    assert rejections == []
    assert [summary(item) for item in items] == EXPECTED_FRENCH
    assert result.detected.settings["encoding"].note == "UTF-8 with BOM"


def test_mapping_settings_override_detection(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    mapping = {
        **FRENCH_MAPPING,
        "encoding": "cp1252",
        "separator": ";",
        "decimal": ",",
        "thousands": " ",
        "date_format": "JJ/MM/AAAA",
    }

    result = read_mapped(path, mapping, as_of=AS_OF)
    items, _ = result.split()

    assert [summary(item) for item in items] == EXPECTED_FRENCH
    sources = {
        name: detection.source for name, detection in result.detected.settings.items()
    }
    assert set(sources.values()) == {"profile"}


def test_ambiguous_dates_day_first_for_semicolon(tmp_path):
    text = "Client;Facture;Date;Echéance;Montant\nC1;F1;01/02/2024;03/03/2024;10,50\n"
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Facture",
            "issue_date": "Date",
            "due_date": "Echéance",
            "amount": "Montant",
        }
    }

    result = read_mapped(path, mapping, as_of=AS_OF)
    items, _ = result.split()

    detection = result.detected.settings["date_format"]
    assert detection.value == "%d/%m/%Y"
    assert detection.note.startswith("ambiguous: the dates also fit MM/DD/YYYY")
    assert (items[0].issue_date, items[0].due_date) == (D(2024, 2, 1), D(2024, 3, 3))


def test_ambiguous_dates_month_first_for_comma(tmp_path):
    text = "Client,Invoice,Date,Due,Amount\nC1,F1,01/02/2024,03/03/2024,10.50\n"
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Invoice",
            "issue_date": "Date",
            "due_date": "Due",
            "amount": "Amount",
        }
    }

    result = read_mapped(path, mapping, as_of=AS_OF)
    items, _ = result.split()

    assert result.detected.settings["decimal"].value == "."
    assert result.detected.settings["date_format"].value == "%m/%d/%Y"
    assert "month-first" in result.detected.settings["date_format"].note
    assert (items[0].issue_date, str(items[0].amount)) == (D(2024, 1, 2), "10.50")


REJECTION_CSV = """\
Client;Nom;Facture;Type;Date;Echéance;Montant;Reste;Réglé le;Devise
;Anon;F100;FA;15/01/2024;14/02/2024;10,00;10,00;;EUR
C1;A;F101;FA;15/01/2024;14/02/2024;abc;10,00;;EUR
C1;A;F102;FA;31/02/2024;14/03/2024;10,00;10,00;;EUR
C1;A;F103;FA;15/02/2024;01/02/2024;10,00;10,00;;EUR
C1;A;F104;FA;15/01/2024;14/02/2024;10,00;10,00;;EUR
C1;A;F104;FA;16/01/2024;15/02/2024;20,00;20,00;;EUR
C1;A;F105;FA;15/01/2024;14/02/2024;-10,00;-10,00;;EUR
C1;A;F106;ZZ;15/01/2024;14/02/2024;10,00;10,00;;EUR
C1;A;F107;FA;15/01/2024;14/02/2024;0,00;0,00;;EUR
C1;A;F108;FA;15/01/2024;14/02/2024;10,00;15,00;;EUR
C1;A;F109;FA;15/01/2024;14/02/2024;10,00;-5,00;;EUR
C1;A;F110;FA;15/01/2024;14/02/2024;10,00;10,00;20/02/2024;EUR
C1;A;F111;FA;15/01/2024;14/02/2024;10,00;10,00;;EURO
C1;A;F112;FA;15/01/2024;14/02/2024;10,00;0,00;10/01/2024;EUR
C1;A;F113;FA;15/01/1980;14/02/1980;10,00;10,00;;EUR
C1;A;F114;FA;15/01/2024;;10,00;10,00;;EUR
C1;A;F115;FA;15/01/2024;14/02/2024;10,00;;;EUR
C1;A;F116;;15/01/2024;14/02/2024;10,00;10,00;;EUR
C1;A;F117;FA;15/01/2024;14/02/2024;10,005;10,00;;EUR
C1;A;F118;FA;2024-01-15;14/02/2024;10,00;10,00;;EUR
"""
REJECTION_MAPPING = {
    "columns": {
        "customer_id": "Client",
        "customer_name": "Nom",
        "document": "Facture",
        "kind": "Type",
        "issue_date": "Date",
        "due_date": "Echéance",
        "amount": "Montant",
        "open_amount": "Reste",
        "settled_date": "Réglé le",
        "currency": "Devise",
    },
    "kind_values": {"FA": "invoice", "AV": "credit_note", "RG": "payment"},
    "separator": ";",
    "decimal": ",",
    "thousands": "",
    "date_format": "JJ/MM/AAAA",
}


def test_mapped_rejections(tmp_path):
    path = write_csv(tmp_path / "export.csv", REJECTION_CSV, encoding="utf-8")
    result = read_mapped(path, REJECTION_MAPPING, as_of=AS_OF)

    items, rejections = result.split()

    assert [(r.line, r.field, r.value, r.reason) for r in rejections] == [
        (2, "Client", "", "value is missing; column Client is required"),
        (
            3,
            "Montant",
            "abc",
            "amount is unreadable; expected a number such as 1234,56",
        ),
        (
            4,
            "Date",
            "31/02/2024",
            "date does not exist in the calendar; expected a real date in the format "
            "DD/MM/YYYY, as in 31/01/2024",
        ),
        (
            5,
            "Echéance",
            "01/02/2024",
            "date is before the Date 15/02/2024; expected a date on or after it",
        ),
        (
            7,
            "Facture",
            "F104",
            "document F104 of customer C1 already appears on line 6; expected each "
            "document once per customer",
        ),
        (
            8,
            "Montant",
            "-10,00",
            "amount is negative on an invoice; expected a positive amount, or a credit "
            "kind (AV, RG) for a credit note",
        ),
        (9, "Type", "ZZ", "kind is not a known value; expected one of FA, AV, RG"),
        (
            10,
            "Montant",
            "0,00",
            "amount is zero; expected a non-zero amount such as 1234,56",
        ),
        (
            11,
            "Reste",
            "15,00",
            "open amount is larger than the amount 10,00; expected an open amount from "
            "0 to 10,00",
        ),
        (
            12,
            "Reste",
            "-5,00",
            "open amount and amount 10,00 have opposite signs; expected the same sign",
        ),
        (
            13,
            "Reste",
            "10,00",
            "open amount is the whole amount although Réglé le gives a payment on "
            "20/02/2024; expected an open amount below the amount, or an empty "
            "Réglé le",
        ),
        (
            14,
            "Devise",
            "EURO",
            "currency is not a three-letter code; expected an ISO 4217 code such as "
            "EUR",
        ),
        (
            15,
            "Réglé le",
            "10/01/2024",
            "date is before the Date 15/01/2024; expected a date on or after it",
        ),
        (
            16,
            "Date",
            "15/01/1980",
            "date is outside the accepted range; expected a year from 1990 to 2100",
        ),
        (
            16,
            "Echéance",
            "14/02/1980",
            "date is outside the accepted range; expected a year from 1990 to 2100",
        ),
        (17, "Echéance", "", "value is missing; column Echéance is required"),
        (18, "Reste", "", "value is missing; column Reste is required"),
        (19, "Type", "", "value is missing; column Type is required"),
        (
            20,
            "Montant",
            "10,005",
            "amount has more than 2 decimal places; expected a number such as 1234,56",
        ),
        (
            21,
            "Date",
            "2024-01-15",
            "date is unreadable; expected the format DD/MM/YYYY, as in 31/01/2024",
        ),
    ]
    assert [item.document for item in items] == ["F104"]
    assert result.stats.lines_read == 20
    assert result.stats.lines_rejected == 19
    assert result.stats.lines_accepted == 1
    assert result.stats.rejections == 20


def test_negative_amount_without_kind_is_credit_note(tmp_path):
    text = (
        "Client;Facture;Date;Montant\nC1;A1;15/01/2024;-25,00\nC1;F1;15/01/2024;25,00\n"
    )
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Facture",
            "issue_date": "Date",
            "amount": "Montant",
        },
        "payment_term": "45 days end of month",
    }

    items, rejections = read_mapped(path, mapping, as_of=AS_OF).split()

    assert rejections == []
    assert [
        (item.legacy_id, item.kind, str(item.amount), item.is_credit, item.due_date)
        for item in items
    ] == [
        (
            "mapped:C1:credit_note:A1",
            ItemKind.CREDIT_NOTE,
            "25.00",
            True,
            D(2024, 1, 15),
        ),
        ("mapped:C1:invoice:F1", ItemKind.INVOICE, "25.00", False, D(2024, 2, 29)),
    ]


def test_partly_used_credit_note_keeps_open_part(tmp_path):
    text = (
        "Client;Facture;Type;Date;Montant;Reste\n"
        "C1;A1;credit_note;15/01/2024;-100,00;-30,00\n"
        "C1;O1;OPENING;01/01/2024;-40,00;-40,00\n"
    )
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Facture",
            "kind": "Type",
            "issue_date": "Date",
            "amount": "Montant",
            "open_amount": "Reste",
        },
        "payment_term": "30 days",
        "source": "gestcom",
    }

    items, rejections = read_mapped(path, mapping, as_of=AS_OF).split()

    assert rejections == []
    assert [
        (item.legacy_id, item.kind, str(item.amount), item.is_credit) for item in items
    ] == [
        ("gestcom:C1:credit_note:A1", ItemKind.CREDIT_NOTE, "30.00", True),
        ("gestcom:C1:opening:O1", ItemKind.OPENING, "40.00", True),
    ]


def write_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Export")
    sheet.append(["Export du 31/03/2024"])
    sheet.append([])
    sheet.append(
        ["Client", "Nom", "Facture", "Date", "Echéance", "Montant", "Payé le", "Litige"]
    )
    rows = [
        [
            "C001",
            "Société Générale d'Électricité",
            "F001",
            dt.datetime(2024, 1, 15),
            dt.datetime(2024, 2, 14),
            1234.56,
            dt.datetime(2024, 2, 10),
            False,
        ],
        [
            1002,
            "Müller GmbH",
            5001,
            dt.datetime(2024, 3, 1),
            dt.datetime(2024, 3, 31),
            2500,
            None,
            True,
        ],
        [
            "C003",
            "Dupont",
            "F003",
            dt.datetime(2024, 3, 5),
            None,
            "1 234,50",
            None,
            None,
        ],
        ["C003", "Dupont", "A003", dt.datetime(2024, 3, 6), None, -200.1, None, None],
        [
            "C004",
            "X",
            "F004",
            dt.datetime(2024, 4, 2),
            dt.datetime(2024, 5, 2),
            10,
            None,
            None,
        ],
        ["C004", "X", "F005", "31/02/2024", dt.datetime(2024, 3, 31), 10, None, None],
        [
            "C005",
            "Y",
            "F006",
            dt.datetime(2024, 3, 10),
            dt.datetime(2024, 4, 9),
            0.1 + 0.2,
            None,
            None,
        ],
        [
            "C005",
            "Y",
            "F007",
            dt.datetime(2024, 3, 10),
            dt.datetime(2024, 4, 9),
            12.345,
            None,
            None,
        ],
    ]
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


XLSX_MAPPING = {
    "columns": {
        "customer_id": "Client",
        "customer_name": "Nom",
        "document": "Facture",
        "issue_date": "Date",
        "due_date": "Echéance",
        "amount": "Montant",
        "settled_date": "Payé le",
        "disputed": "Litige",
    },
    "skip_rows": 2,
    "sheet": "Export",
    "payment_term": "45 days end of month",
}


def test_xlsx_items(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")

    items, _ = read_mapped(path, XLSX_MAPPING, as_of=AS_OF).split()

    assert [summary(item) for item in items] == [
        (
            4,
            "mapped:C001:invoice:F001",
            ItemKind.INVOICE,
            "F001",
            D(2024, 1, 15),
            D(2024, 2, 14),
            "1234.56",
            D(2024, 2, 10),
            False,
            False,
        ),
        (
            5,
            "mapped:1002:invoice:5001",
            ItemKind.INVOICE,
            "5001",
            D(2024, 3, 1),
            D(2024, 3, 31),
            "2500.00",
            None,
            False,
            True,
        ),
        (
            6,
            "mapped:C003:invoice:F003",
            ItemKind.INVOICE,
            "F003",
            D(2024, 3, 5),
            D(2024, 4, 30),
            "1234.50",
            None,
            False,
            False,
        ),
        (
            7,
            "mapped:C003:credit_note:A003",
            ItemKind.CREDIT_NOTE,
            "A003",
            D(2024, 3, 6),
            D(2024, 3, 6),
            "200.10",
            None,
            True,
            False,
        ),
        (
            10,
            "mapped:C005:invoice:F006",
            ItemKind.INVOICE,
            "F006",
            D(2024, 3, 10),
            D(2024, 4, 9),
            "0.30",
            None,
            False,
            False,
        ),
    ]
    assert items[1].customer_name == "Müller GmbH"


def test_xlsx_rejections_and_stats(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")
    result = read_mapped(path, XLSX_MAPPING, as_of=AS_OF)

    _, rejections = result.split()

    assert rejections == [
        Rejection(
            9,
            "Date",
            "31/02/2024",
            "date does not exist in the calendar; expected a real date in the format "
            "DD/MM/YYYY, as in 31/01/2024",
        ),
        Rejection(
            11,
            "Montant",
            "12.345",
            "amount has more than 2 decimal places; expected a number such as 1 234,56",
        ),
    ]
    stats = result.stats
    assert stats.lines_read == 8
    assert stats.lines_skipped_after_as_of == 1
    assert stats.lines_rejected == 2
    assert stats.lines_accepted == 5
    assert stats.items == 5
    assert stats.due_dates_from_term == 1


def test_xlsx_detection(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")

    detected = detect_format(path, XLSX_MAPPING)

    settings = detected.settings
    assert detected.file_type == "xlsx"
    assert "encoding" not in settings
    assert (settings["sheet"].value, settings["sheet"].source) == ("Export", "profile")
    assert (settings["decimal"].value, settings["thousands"].value) == (",", " ")
    assert settings["date_format"].value == "%d/%m/%Y"
    assert settings["date_format"].note.startswith("ambiguous")
    assert detected.columns == (
        "Client",
        "Nom",
        "Facture",
        "Date",
        "Echéance",
        "Montant",
        "Payé le",
        "Litige",
    )


def test_xlsx_missing_sheet(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**XLSX_MAPPING, "sheet": "Feuil9"}, as_of=AS_OF)

    assert str(caught.value) == f"{path} has no sheet Feuil9; sheets: Notes, Export"


def test_xlsx_sheet_by_position(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx")

    items, _ = read_mapped(path, {**XLSX_MAPPING, "sheet": 2}, as_of=AS_OF).split()

    assert len(items) == 5


@pytest.mark.parametrize(
    ("change", "code", "message_part"),
    [
        (
            {"delimiter": ";"},
            "mapping_key_unknown",
            "unknown key delimiter; expected keys: columns, kind_values",
        ),
        ({"decimal": ";"}, "option_invalid", "option decimal is ';'; expected , or ."),
        ({"thousands": "_"}, "option_invalid", "option thousands is '_'"),
        ({"skip_rows": -1}, "option_invalid", "option skip_rows is -1"),
        (
            {"date_format": "%d/%m/%y"},
            "date_format_invalid",
            "date format %d/%m/%y is not supported",
        ),
        (
            {"payment_term": "net 30"},
            "payment_term_invalid",
            "payment term net 30 is not understood",
        ),
        ({"encoding": "klingon"}, "encoding_unknown", "encoding klingon is unknown"),
        (
            {"kind_values": {"FA": "bill"}},
            "mapping_kind_unknown",
            "maps FA to bill; expected one of invoice, credit_note, payment, opening",
        ),
        (
            {"date_range": [2100, 1990]},
            "option_invalid",
            "option date_range is [2100, 1990]",
        ),
    ],
)
def test_mapping_invalid_settings(tmp_path, change, code, message_part):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**FRENCH_MAPPING, **change}, as_of=AS_OF)

    assert caught.value.code == code
    assert message_part in str(caught.value)


def test_mapping_unknown_field(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {**FRENCH_MAPPING["columns"], "client": "Code client"}

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**FRENCH_MAPPING, "columns": columns}, as_of=AS_OF)

    assert caught.value.code == "mapping_field_unknown"
    assert "unknown field client; expected fields: customer_id, customer_name" in str(
        caught.value
    )


def test_mapping_required_field_missing(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {k: v for k, v in FRENCH_MAPPING["columns"].items() if k != "amount"}

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**FRENCH_MAPPING, "columns": columns}, as_of=AS_OF)

    assert str(caught.value) == (
        "mapping columns lacks the required field amount; required fields: "
        "customer_id, document, issue_date, amount"
    )


def test_mapping_column_missing_from_file(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {**FRENCH_MAPPING["columns"], "amount": "Montant HT"}

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**FRENCH_MAPPING, "columns": columns}, as_of=AS_OF)

    assert str(caught.value) == (
        "column Montant HT (mapped to amount) is not in the file; file columns: "
        "Code client, Raison sociale, N° facture, Type, Date facture, Echéance, "
        "Montant TTC, Reste dû, Date règlement, Litige, Equipe, Pays"
    )


def test_mapping_column_names_ignore_case_and_spacing(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {**FRENCH_MAPPING["columns"], "amount": "montant  ttc"}

    items, _ = read_mapped(
        path, {**FRENCH_MAPPING, "columns": columns}, as_of=AS_OF
    ).split()

    assert len(items) == 7


def test_mapping_needs_due_date_source(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {k: v for k, v in FRENCH_MAPPING["columns"].items() if k != "due_date"}
    mapping = {k: v for k, v in FRENCH_MAPPING.items() if k != "payment_term"}

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, {**mapping, "columns": columns}, as_of=AS_OF)

    assert caught.value.code == "mapping_due_date_source"


def test_mapping_not_a_dict():
    with pytest.raises(ReaderError) as caught:
        load_mapping({"encoding": "utf-8"})

    assert caught.value.code == "mapping_not_a_dict"


def test_mapping_from_yaml_file(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(
        "columns:\n"
        "  customer_id: Code client\n"
        "  document: N° facture\n"
        "  issue_date: Date facture\n"
        "  amount: Montant TTC\n"
        "  due_date: Echéance\n"
        "  kind: Type\n"
        "kind_values: {FA: invoice, AV: credit_note}\n"
        "payment_term: 30 jours\n"
        "date_format: JJ/MM/AAAA\n",
        encoding="utf-8",
    )

    items, rejections = read_mapped(path, mapping_path, as_of=AS_OF).split()

    assert rejections == []
    assert len(items) == 6
    assert items[0].customer_name == "C001"


def test_mapping_yaml_syntax_error(tmp_path):
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text("columns: [unclosed\n", encoding="utf-8")

    with pytest.raises(ReaderError) as caught:
        load_mapping(mapping_path)

    assert caught.value.code == "mapping_unreadable"


def test_example_profile_is_valid():
    mapping = load_mapping(PROFILES / "example-mapping.yaml")

    assert mapping.source == "gestcom"
    assert mapping.columns["document"] == "N° pièce"
    assert mapping.date_format == "%d/%m/%Y"
    assert str(mapping.payment_term) == "45 days end of month"


def test_unsupported_extension(tmp_path):
    path = tmp_path / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")

    with pytest.raises(ReaderError) as caught:
        detect_format(path)

    assert caught.value.code == "file_type_unsupported"


def test_skip_rows_and_blank_lines_in_csv(tmp_path):
    text = (
        "Export clients\n"
        "Client;Facture;Date;Echéance;Montant\n"
        "C1;F1;15/01/2024;14/02/2024;10,00\n"
        "\n"
        'C1;F2;16/01/2024;15/02/2024;"1 000,00"\n'
    )
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Facture",
            "issue_date": "Date",
            "due_date": "Echéance",
            "amount": "Montant",
        },
        "skip_rows": 1,
    }

    result = read_mapped(path, mapping, as_of=AS_OF)
    items, rejections = result.split()

    assert rejections == []
    assert [(item.line, str(item.amount)) for item in items] == [
        (3, "10.00"),
        (5, "1000.00"),
    ]
    assert result.stats.lines_blank == 1


def test_multiline_quoted_field_keeps_line_numbers(tmp_path):
    text = (
        "Client;Nom;Facture;Date;Echéance;Montant\n"
        'C1;"Dupont\nSiège";F1;15/01/2024;14/02/2024;10,00\n'
        "C1;Dupont;F2;15/01/2024;14/02/2024;abc\n"
    )
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "customer_name": "Nom",
            "document": "Facture",
            "issue_date": "Date",
            "due_date": "Echéance",
            "amount": "Montant",
        },
        "decimal": ",",
    }

    items, rejections = read_mapped(path, mapping, as_of=AS_OF).split()

    assert [(item.line, item.customer_name) for item in items] == [
        (2, "Dupont\r\nSiège")
    ]
    assert [(rejection.line, rejection.field) for rejection in rejections] == [
        (4, "Montant")
    ]


def test_detect_format_xlsx_without_mapping(tmp_path):
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Client", "Date", "Montant"])
    workbook.active.append(["C1", "01/02/2024", "1.234,50"])
    workbook.active.append(["C2", "03/04/2024", "12,00"])
    workbook.save(path)

    detected = detect_format(path)

    assert detected.settings["sheet"].note == "first sheet"
    assert detected.settings["decimal"].value == ","
    assert detected.settings["thousands"].value == "."
    assert detected.settings["date_format"].value == "%d/%m/%Y"
    assert detected.settings["date_format"].note.startswith("ambiguous")


def test_detect_format_checks_mapped_columns(tmp_path):
    path = write_csv(tmp_path / "export.csv", FRENCH_CSV)
    columns = {**FRENCH_MAPPING["columns"], "team": "Équipe commerciale"}

    with pytest.raises(ReaderError) as caught:
        detect_format(path, {**FRENCH_MAPPING, "columns": columns})

    assert caught.value.code == "column_missing"


def test_duplicate_mapped_column_in_file(tmp_path):
    text = "Client;Facture;Date;Echéance;Montant;Montant\nC1;F1;15/01/2024;;1,00;2,00\n"
    path = write_csv(tmp_path / "export.csv", text)
    mapping = {
        "columns": {
            "customer_id": "Client",
            "document": "Facture",
            "issue_date": "Date",
            "due_date": "Echéance",
            "amount": "Montant",
        }
    }

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, mapping, as_of=AS_OF)

    assert str(caught.value) == (
        "column Montant (mapped to amount) appears more than once in the file; "
        "rename one of them"
    )


def test_empty_csv_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"")

    with pytest.raises(ReaderError) as caught:
        read_mapped(path, FRENCH_MAPPING, as_of=AS_OF)

    assert caught.value.code == "file_empty"


def test_detected_format_prints_none_setting(tmp_path):
    text = "Client;Facture;Date;Echéance;Montant\nC1;F1;15/01/2024;14/02/2024;10\n"
    path = write_csv(tmp_path / "export.csv", text)

    detected = detect_format(path)

    assert "  thousands: none (detected)" in str(detected).splitlines()
    assert detected.settings["decimal"].note == (
        "no amount text, so the default for this file"
    )
