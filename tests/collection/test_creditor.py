"""The creditor file: validation with messages naming the line, the sample
warning, and the creditor's identity on letters."""

import pytest
from flask_babel import force_locale

from app.collection.creditor import (
    SAMPLE_CREDITOR_PATH,
    CreditorFileError,
    creditor_status,
    current_creditor,
    iban_checksum_is_valid,
    load_creditor,
    luhn_is_valid,
)
from app.collection.letter_render import LetterError
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


def test_sample_file_is_valid_and_flagged():
    creditor = load_creditor(SAMPLE_CREDITOR_PATH)

    assert creditor.is_sample is True
    assert creditor.siren == "123456782"
    assert creditor.iban == "FR7699999000010001234567809"
    assert creditor.payment_days == 8


def test_own_file_is_read_and_not_flagged(tmp_path):
    creditor = load_creditor(write_creditor(tmp_path))

    assert creditor.is_sample is False
    assert creditor.name == "Fournitures Durand"
    assert creditor.siren_display == "404 833 048"
    assert creditor.rcs == "RCS Lyon 404 833 048"
    assert creditor.iban_display == "FR76 1111 2222 2333 3344 4455 517"
    assert creditor.vat_number == "FR83404833048"
    assert str(creditor.share_capital) == "250000"


@pytest.mark.parametrize("key", ["siren", "iban"])
def test_file_keeping_sample_account_is_flagged(tmp_path, key):
    sample = load_creditor(SAMPLE_CREDITOR_PATH)
    changes = {key: getattr(sample, key)}
    if key == "siren":
        changes["vat_number"] = None

    assert load_creditor(write_creditor(tmp_path, **changes)).is_sample is True


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"siren": "40483304"}, "SIREN '40483304' is invalid: it must have exactly 9"),
        ({"siren": "404833049"}, "SIREN '404833049' is invalid: its last digit fails"),
        ({"siren": "4048330A8"}, "exactly 9 digits"),
        ({"iban": "FR76 1111 2222 2333 3344 4455 518"}, "check digits do not match"),
        ({"iban": "FR76 1111 2222 2333 3344 4455 5"}, "country FR has 27 characters"),
        ({"iban": "1234"}, "must be a country code, 2 check digits"),
        ({"bic": "TEST-FR"}, "BIC 'TEST-FR' is invalid"),
        ({"vat_number": "FR00404833048"}, "should be FR83404833048"),
        ({"share_capital": "dix mille"}, "share capital 'dix mille' is invalid"),
        ({"share_capital": "-5"}, "share capital '-5' is invalid"),
        ({"payment_days": "0"}, "payment_days '0' is invalid"),
        ({"payment_days": "91"}, "from 1 to 90"),
        ({"email": "recouvrement"}, "is not a valid email address"),
        ({"name": None}, "missing 'name'"),
        ({"iban": None, "bic": None}, "missing 'iban', 'bic'"),
        ({"colour": "blue"}, "unknown key 'colour'"),
        ({"address": "\n".join(f"ligne {n}" for n in range(7))}, "at most 6 lines"),
    ],
)
def test_invalid_value_is_reported(tmp_path, changes, message):
    path = write_creditor(tmp_path, **changes)

    with pytest.raises(CreditorFileError) as caught:
        load_creditor(path)

    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_error_names_line(tmp_path):
    path = tmp_path / "creditor.yaml"
    path.write_text(
        'name: "A"\naddress: "1 rue"\ncity: "Lyon"\nsiren: "404833049"\n'
        'iban: "FR7611112222233333444455517"\nbic: "TESTFRPP"\n',
        encoding="utf-8",
    )

    with pytest.raises(CreditorFileError, match=r"creditor.yaml, line 4: SIREN"):
        load_creditor(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("- name: A\n", "expected one 'key: value' line per detail"),
        ("name: [A\n", "invalid YAML"),
        ("name: A\nname: B\n", "'name' is given twice, first on line 1"),
    ],
)
def test_malformed_file_is_reported(tmp_path, text, message):
    path = tmp_path / "creditor.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(CreditorFileError, match=message):
        load_creditor(path)


def test_checksums():
    assert luhn_is_valid("404833048") is True
    assert luhn_is_valid("404833047") is False
    assert iban_checksum_is_valid("FR7611112222233333444455517") is True
    assert iban_checksum_is_valid("FR7611112222233333444455516") is False


def test_missing_configured_file(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(tmp_path / "absent.yaml"))

    with pytest.raises(CreditorFileError, match="CADENCE_CREDITOR_FILE"):
        current_creditor()
    status = creditor_status()
    assert "absent.yaml" in status.error
    assert status.is_sample is False


def test_changed_file_is_read_again(app, tmp_path, monkeypatch):
    path = write_creditor(tmp_path)
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(path))
    assert current_creditor().name == "Fournitures Durand"

    write_creditor(tmp_path, name="Fournitures Durand et Fils", payment_days="15")

    assert current_creditor().name == "Fournitures Durand et Fils"
    assert current_creditor().payment_days == 15


def test_default_is_sample(app, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", "")

    status = creditor_status()

    assert status.error is None
    assert status.is_sample is True
    assert status.siren == "123 456 782"


@pytest.fixture
def debtor(app):
    customer = add_customer("C-CRED", name="Client SARL", address="1 rue Basse")
    add_invoice(customer, "F-1", days_ago(30), "100.00")
    db.session.commit()
    return customer


@pytest.mark.parametrize(
    ("language", "mention"),
    [
        (
            "fr",
            "Fournitures Durand, SA au capital de 250 000,00 € · Siège social : "
            "3 quai des Orfèvres, 69005 Lyon · RCS Lyon 404 833 048 · "
            "TVA intracommunautaire FR83404833048",
        ),
        (
            "en",
            "Fournitures Durand, SA with a share capital of €250,000.00 · "
            "Registered office: 3 quai des Orfèvres, 69005 Lyon · "
            "RCS Lyon 404 833 048 · EU VAT number FR83404833048",
        ),
    ],
)
def test_letter_identifies_creditor(
    app, debtor, tmp_path, monkeypatch, language, mention
):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(write_creditor(tmp_path)))

    with app.test_request_context(), force_locale("en"):
        rendered = compose_letter(
            debtor,
            claimable_invoices(debtor),
            "formal_notice",
            language,
            TODAY,
            with_pdf=True,
        )

    text = pdf_text(rendered.pdf)
    assert text.startswith("Fournitures Durand SA 3 quai des Orfèvres 69005 Lyon")
    assert mention in text
    assert mention in rendered.html.replace("\u202f", " ").replace("\u00a0", " ")


def test_letter_without_rcs_prints_siren(app, debtor, tmp_path, monkeypatch):
    path = write_creditor(tmp_path, rcs_city=None, share_capital=None)
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(path))

    with app.test_request_context(), force_locale("en"):
        rendered = compose_letter(
            debtor,
            claimable_invoices(debtor),
            "first_reminder",
            "fr",
            TODAY,
            with_pdf=True,
        )

    assert (
        "Fournitures Durand SA · Siège social : 3 quai des Orfèvres, 69005 Lyon · "
        "SIREN 404 833 048" in pdf_text(rendered.pdf)
    )


def test_invalid_file_stops_letters(app, debtor, tmp_path, monkeypatch):
    path = write_creditor(tmp_path, siren="404833049")
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(path))

    with app.test_request_context(), force_locale("en"):
        with pytest.raises(LetterError) as caught:
            compose_letter(
                debtor,
                claimable_invoices(debtor),
                "first_reminder",
                "fr",
                TODAY,
                with_pdf=True,
            )

    assert "Les coordonnées du créancier imprimées sur les lettres sont invalides" in str(caught.value)
    assert "Luhn" in str(caught.value)
