"""What overdue letters claim: principal, days late, interest, indemnity and total
per invoice and in all, to the cent, in French and English, in the PDF and in
the HTML copy."""

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale

from app.collection.letters import claimable_invoices, compose_letter
from app.extensions import db
from tests.collection.creditor_files import write_creditor
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    days_ago,
    pdf_text,
)

# 20 days after TODAY, so interest runs across the 2013-H1 / 2013-H2 boundary:
# 10.75 % a year up to 30 June and 10.50 % from 1 July.
LATER = dt.date(2013, 7, 20)


@pytest.fixture(autouse=True)
def creditor(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(write_creditor(tmp_path)))


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def debtor(app):
    """Two overdue invoices on 2013-06-30: 1250.00 due 1 May, 480.50 due 10 June."""
    customer = add_customer(
        "0783-PEPYR", name="Pépinières Éloi & Fils", address="7 chemin Vert"
    )
    add_invoice(customer, "F-1001", days_ago(60), "1250.00")
    add_invoice(customer, "F-1002", days_ago(20), "980.50", open_amount="480.50")
    db.session.commit()
    return customer


def _letter(customer, key, language, on=TODAY):
    rendered = compose_letter(
        customer, claimable_invoices(customer), key, language, on, with_pdf=True
    )
    return rendered, pdf_text(rendered.pdf), _plain(rendered.html)


def _plain(html: str) -> str:
    """Return HTML with Babel's no-break spaces as plain spaces."""
    return html.replace("\u202f", " ").replace("\u00a0", " ")


# At 10.75 %: 1250.00 x 60 / 365 = 22.09 and 480.50 x 20 / 365 = 2.83.
FRENCH_ROWS_ON_TODAY = [
    "F-1001 1 mai 2013 60 1 250,00 € 22,09 € 40,00 € 1 312,09 €",
    "F-1002 10 juin 2013 20 480,50 € 2,83 € 40,00 € 523,33 €",
    "Total 1 730,50 € 24,92 € 80,00 € 1 835,42 €",
]
ENGLISH_ROWS_ON_TODAY = [
    "F-1001 May 1, 2013 60 €1,250.00 €22.09 €40.00 €1,312.09",
    "F-1002 Jun 10, 2013 20 €480.50 €2.83 €40.00 €523.33",
    "Total €1,730.50 €24.92 €80.00 €1,835.42",
]


@pytest.mark.parametrize("key", ["first_reminder", "second_reminder", "formal_notice"])
def test_amounts_table_in_french(debtor, key):
    _rendered, text, _html = _letter(debtor, key, "fr")

    for row in FRENCH_ROWS_ON_TODAY:
        assert row in text
    assert "Facture Échéance Retard (jours) Principal dû Intérêts de retard" in text


@pytest.mark.parametrize("key", ["first_reminder", "second_reminder", "formal_notice"])
def test_amounts_table_in_english(debtor, key):
    _rendered, text, _html = _letter(debtor, key, "en")

    for row in ENGLISH_ROWS_ON_TODAY:
        assert row in text
    assert "Invoice Due date Days late Principal due Late-payment interest" in text


def test_first_reminder_wording_in_french(debtor):
    _rendered, text, html = _letter(debtor, "first_reminder", "fr")

    for document in (text, html):
        assert "nous régler le principal de 1 730,50 € sous 8 jours" in document
        assert "au plus tard le 8 juillet 2013" in document
        assert "l'article L441-10 du Code de commerce" in document
        assert "(article D441-5 du même code)" in document
        assert (
            "ces sommes s'élèvent à 24,92 € d'intérêts et 80,00 € d'indemnités, "
            "soit un total exigible de 1 835,42 €" in document
        )
        assert "Nous nous réservons le droit de vous les réclamer" in document


def test_first_reminder_wording_in_english(debtor):
    _rendered, text, html = _letter(debtor, "first_reminder", "en")

    for document in (text, html):
        assert "Please pay the principal of €1,730.50 within 8 days" in document
        assert "by July 8, 2013 at the latest" in document
        assert "article L441-10 of the French Commercial Code" in document
        assert (
            "these come to €24.92 of interest and €80.00 of indemnities, bringing "
            "the total due to €1,835.42" in document
        )
        assert "We reserve the right to claim them" in document


def test_second_reminder_total_in_french(debtor):
    # F-1001: 1250.00 x (10.75 x 60 + 10.50 x 20) / 36500 = 29.28.
    # F-1002: 480.50 x (10.75 x 20 + 10.50 x 20) / 36500 = 5.59.
    _rendered, text, html = _letter(debtor, "second_reminder", "fr", LATER)

    assert "F-1001 1 mai 2013 80 1 250,00 € 29,28 € 40,00 € 1 319,28 €" in text
    assert "F-1002 10 juin 2013 40 480,50 € 5,59 € 40,00 € 526,09 €" in text
    assert "Total 1 730,50 € 34,87 € 80,00 € 1 845,37 €" in text
    assert "la somme totale de 1 845,37 €, soit" in text
    assert "la somme totale de <strong>1 845,37 €</strong>, soit" in html
    for document in (text, html):
        assert (
            "soit 1 730,50 € de principal, 34,87 € d'intérêts de retard et "
            "80,00 € d'indemnités forfaitaires" in document
        )
        assert "arrêtées ici au 20 juillet 2013" in document
        assert "au plus tard le 28 juillet 2013" in document


def test_second_reminder_total_in_english(debtor):
    _rendered, text, html = _letter(debtor, "second_reminder", "en", LATER)

    assert "F-1001 May 1, 2013 80 €1,250.00 €29.28 €40.00 €1,319.28" in text
    assert "Total €1,730.50 €34.87 €80.00 €1,845.37" in text
    assert "Please pay the total sum of €1,845.37 without delay" in text
    assert "Please pay the total sum of <strong>€1,845.37</strong>" in html
    assert (
        "that is €1,730.50 of principal, €34.87 of late-payment interest and "
        "€80.00 of fixed indemnities" in text
    )
    assert "computed here up to July 20, 2013" in text


@pytest.mark.parametrize(
    ("language", "claim"),
    [
        ("fr", "la somme totale de 1 845,37 € dans un délai de 8 jours"),
        ("en", "the total sum of €1,845.37 within 8 days"),
    ],
)
def test_formal_notice_claims_total_on_later_date(debtor, language, claim):
    _rendered, text, _html = _letter(debtor, "formal_notice", language, LATER)

    assert claim in text


def test_html_table_matches_pdf_table(debtor):
    _rendered, _text, html = _letter(debtor, "formal_notice", "fr")

    expected_cells = [
        '<td>F-1001</td><td>1 mai 2013</td><td align="right">60</td>'
        '<td align="right">1 250,00 €</td><td align="right">22,09 €</td>'
        '<td align="right">40,00 €</td><td align="right">1 312,09 €</td>',
        '<td colspan="3">Total</td><td align="right">1 730,50 €</td>'
        '<td align="right">24,92 €</td><td align="right">80,00 €</td>'
        '<td align="right">1 835,42 €</td>',
    ]
    for cells in expected_cells:
        assert cells in html


@pytest.mark.parametrize(
    ("language", "statutory", "contract"),
    [
        (
            "fr",
            "au taux de refinancement de la Banque centrale européenne majoré de "
            "10 points",
            "au taux convenu entre nous, qui ne peut être inférieur à trois fois le "
            "taux d'intérêt légal",
        ),
        (
            "en",
            "the European Central Bank refinancing rate plus 10 percentage points",
            "the rate agreed between us, which may not be lower than three times "
            "the French legal interest rate",
        ),
    ],
)
def test_rate_wording_follows_contract_rate(
    app, debtor, tmp_path, monkeypatch, language, statutory, contract
):
    legal_table = tmp_path / "legal.yaml"
    legal_table.write_text('- semester: 2013-H1\n  rate: "0.04"\n', encoding="utf-8")
    monkeypatch.setitem(app.config, "LEGAL_RATES_FILE", str(legal_table))
    _rendered, text, _html = _letter(debtor, "formal_notice", language)
    assert statutory in text
    assert contract not in text

    debtor.contract_rate = Decimal("15.000")
    db.session.commit()
    _rendered, text, _html = _letter(debtor, "formal_notice", language)

    assert contract in text
    assert statutory not in text
    # At 15 %: 1250.00 x 60 / 365 x 0.15 = 30.82 and 480.50 x 20 / 365 x 0.15 = 3.95.
    assert "30,82" in text or "€30.82" in text
    assert "3,95" in text or "€3.95" in text
