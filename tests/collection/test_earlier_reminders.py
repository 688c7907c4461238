"""Letters mention only earlier reminders that were sent: from the stored letters,
or from the facts of a dunning action."""

import datetime as dt

import pytest
from flask_babel import force_locale

from app.collection.letter_render import preview_template
from app.collection.letter_template_store import read_default_template
from app.collection.letters import claimable_invoices, compose_letter, send_letter
from app.collection.reminder_history import earlier_reminders
from app.extensions import db
from tests.collection.creditor_files import write_creditor
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    add_user,
    days_ago,
    pdf_text,
)

JUNE_10 = dt.date(2013, 6, 10)
JUNE_20 = dt.date(2013, 6, 20)


@pytest.fixture(autouse=True)
def creditor(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(write_creditor(tmp_path)))


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def debtor(app):
    """F-1001 due 2013-05-01 and F-1002 due 2013-06-10."""
    customer = add_customer("C-REM", name="Rappel SARL", address="1 rue Haute")
    add_invoice(customer, "F-1001", days_ago(60), "1250.00")
    add_invoice(customer, "F-1002", days_ago(20), "480.50")
    db.session.commit()
    return customer


@pytest.fixture
def manager(app):
    return add_user("manager@test.example", "manager")


def _invoice(customer, number):
    return next(i for i in claimable_invoices(customer) if i.number == number)


def _text(customer, key, language, numbers=("F-1001", "F-1002"), on=TODAY, **kw):
    invoices = [_invoice(customer, number) for number in numbers]
    rendered = compose_letter(
        customer, invoices, key, language, on, with_pdf=True, **kw
    )
    return pdf_text(rendered.pdf)


def test_second_reminder_without_earlier_letter(debtor):
    french = _text(debtor, "second_reminder", "fr")
    english = _text(debtor, "second_reminder", "en")

    assert "Malgré" not in french
    assert (
        "Sauf erreur de notre part, les factures suivantes restent impayées" in french
    )
    assert "Despite" not in english
    assert "According to our records, the following invoices" in english


def test_formal_notice_without_earlier_letter(debtor):
    french = _text(debtor, "formal_notice", "fr")
    english = _text(debtor, "formal_notice", "en")

    assert "Malgré" not in french
    assert "Madame, Monsieur, Vous restez redevable envers Fournitures Durand" in french
    assert "Despite" not in english
    assert "Dear Sir or Madam, You still owe Fournitures Durand" in english


def test_second_reminder_names_first_reminder_sent(debtor, manager):
    letter = send_letter(
        debtor,
        "first_reminder",
        "fr",
        [_invoice(debtor, "F-1001").id],
        manager,
        JUNE_10,
    )

    french = _text(debtor, "second_reminder", "fr")
    english = _text(debtor, "second_reminder", "en")

    assert "Malgré notre première relance du 10 juin 2013, les factures suivantes" in (
        french
    )
    assert "Despite our first reminder of June 10, 2013, the following" in english
    reminders = earlier_reminders(
        debtor.id, {i.id: i.due_date for i in claimable_invoices(debtor)}, TODAY
    )
    assert [(r.sent_on, r.template_key, r.letter_id) for r in reminders] == [
        (JUNE_10, "first_reminder", letter.id)
    ]


def test_formal_notice_names_both_reminders(debtor, manager):
    old = _invoice(debtor, "F-1001").id
    send_letter(debtor, "first_reminder", "fr", [old], manager, JUNE_10)
    send_letter(debtor, "second_reminder", "en", [old], manager, JUNE_20)

    french = _text(debtor, "formal_notice", "fr")
    english = _text(debtor, "formal_notice", "en")

    assert (
        "Malgré notre première relance du 10 juin 2013 et notre seconde relance du "
        "20 juin 2013, vous restez redevable" in french
    )
    assert (
        "Despite our first reminder of June 10, 2013 and our second reminder of "
        "June 20, 2013, you still owe" in english
    )


def test_letter_about_other_invoices_is_not_mentioned(debtor, manager):
    send_letter(
        debtor,
        "first_reminder",
        "fr",
        [_invoice(debtor, "F-1001").id],
        manager,
        JUNE_10,
    )

    text = _text(debtor, "second_reminder", "fr", numbers=("F-1002",))

    assert "Malgré" not in text


def test_letter_sent_after_letter_date_is_not_mentioned(debtor, manager):
    send_letter(
        debtor,
        "first_reminder",
        "fr",
        [_invoice(debtor, "F-1001").id],
        manager,
        JUNE_20,
    )

    text = _text(debtor, "second_reminder", "fr", numbers=("F-1001",), on=JUNE_10)

    assert "Malgré" not in text


def test_courtesy_reminder_is_not_mentioned(debtor, manager):
    coming = add_invoice(debtor, "F-3001", JUNE_20, "300.00")
    db.session.commit()
    send_letter(debtor, "courtesy_reminder", "fr", [coming.id], manager, JUNE_10)

    text = _text(debtor, "second_reminder", "fr", numbers=("F-3001",))

    assert "F-3001" in text
    assert "Malgré" not in text


def test_action_facts_replace_stored_letters(debtor, manager):
    letter = send_letter(
        debtor,
        "first_reminder",
        "fr",
        [_invoice(debtor, "F-1001").id],
        manager,
        JUNE_10,
    )
    facts = [
        {
            "level_name": "Première relance",
            "sent_on": dt.date(2013, 6, 12),
            "letter_id": letter.id,
        },
        {"level_name": "Appel de relance", "sent_on": JUNE_20, "letter_id": None},
    ]

    text = _text(debtor, "formal_notice", "fr", reminders=facts)

    assert "Malgré notre première relance du 12 juin 2013, vous restez" in text
    assert "20 juin 2013" not in text


def test_empty_action_facts_mention_nothing(debtor, manager):
    send_letter(
        debtor,
        "first_reminder",
        "fr",
        [_invoice(debtor, "F-1001").id],
        manager,
        JUNE_10,
    )

    text = _text(debtor, "formal_notice", "en", reminders=[])

    assert "Despite" not in text


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("fr", "Malgré notre première relance du 31 mai 2013"),
        ("en", "Despite our first reminder of May 31, 2013"),
    ],
)
def test_template_preview_shows_sample_reminder(app, language, phrase):
    subject, body = read_default_template("second_reminder", language)

    rendered = preview_template(subject, body, language, TODAY)

    assert phrase in pdf_text(rendered.pdf)
