"""Letters: the formal notice's content in French and English, PDF text, the
template sandbox, markup limits, and letters kept as sent."""

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.collection.letter_pdf import LetterMarkupError, check_markup
from app.collection.letter_render import (
    LetterError,
    LetterTemplateError,
    invoice_line,
    letter_context,
    preview_template,
    recipient_of,
)
from app.collection.letter_template_store import (
    read_default_template,
    save_letter_template,
    seed_letter_templates,
)
from app.collection.letters import (
    LetterPermissionError,
    claimable_invoices,
    compose_letter,
    send_letter,
)
from app.collection.models import LetterTemplate
from app.collection.penalty import (
    compute_penalty,
    load_legal_rate_table,
    load_rate_table,
)
from app.extensions import db
from tests.collection.creditor_files import write_creditor
from tests.collection.dunning_factories import (
    TODAY,
    add_customer,
    add_invoice,
    add_team,
    add_user,
    days_ago,
    pdf_text,
)


@pytest.fixture(autouse=True)
def creditor(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CREDITOR_FILE", str(write_creditor(tmp_path)))


@pytest.fixture(autouse=True)
def request_context(app):
    """Service errors carry translatable messages, which need a request's locale."""
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def debtor(app):
    """A customer with two overdue invoices: 60 and 20 days late on 2013-06-30."""
    customer = add_customer(
        "0783-PEPYR",
        name="Pépinières Éloi & Fils",
        address="7 chemin Vert\n33000 Bordeaux",
    )
    add_invoice(customer, "F-1001", days_ago(60), "1250.00")
    add_invoice(customer, "F-1002", days_ago(20), "980.50", open_amount="480.50")
    db.session.commit()
    return customer


def _formal_notice(customer, language):
    invoices = claimable_invoices(customer)
    return compose_letter(
        customer, invoices, "formal_notice", language, TODAY, with_pdf=True
    )


def test_formal_notice_in_french(debtor):
    rendered = _formal_notice(debtor, "fr")

    text = pdf_text(rendered.pdf)
    # Both parties.
    assert "Fournitures Durand SA 3 quai des Orfèvres 69005 Lyon" in text
    assert "Pépinières Éloi & Fils 7 chemin Vert 33000 Bordeaux" in text
    assert "Lyon, le 30 juin 2013" in text
    assert "Réf. client : 0783-PEPYR" in text
    assert "Objet : Mise en demeure de payer" in text
    assert "vaut mise en demeure" in text
    # Invoices with due date, open amount, interest and indemnity. At 0.75 + 10 =
    # 10.75 % a year: 1250.00 x 60 days = 22.09, 480.50 x 20 days = 2.83.
    assert "F-1001 1 mai 2013 60 1 250,00 € 22,09 € 40,00 € 1 312,09 €" in text
    assert "F-1002 10 juin 2013 20 480,50 € 2,83 € 40,00 € 523,33 €" in text
    assert "Total 1 730,50 € 24,92 € 80,00 € 1 835,42 €" in text
    assert "somme totale de 1 835,42 €" in text
    # Deadline, payment details and next step.
    assert "dans un délai de 8 jours" in text
    assert "au plus tard le 8 juillet 2013" in text
    assert "IBAN : FR76 1111 2222 2333 3344 4455 517" in text
    assert "BIC : TESTFRPPXXX" in text
    assert "injonction de payer" in text


def test_formal_notice_in_english(debtor):
    rendered = _formal_notice(debtor, "en")

    text = pdf_text(rendered.pdf)
    assert rendered.subject == "Formal notice to pay"
    assert "Lyon, June 30, 2013" in text
    assert "Customer reference: 0783-PEPYR" in text
    assert "This letter constitutes formal notice" in text
    assert "F-1001 May 1, 2013 60 €1,250.00 €22.09 €40.00 €1,312.09" in text
    assert "total sum of €1,835.42" in text
    assert "by July 8, 2013 at the latest" in text
    assert "order for payment" in text


def test_letter_amounts_match_penalty_module(app, debtor, tmp_path, monkeypatch):
    # The packaged legal rate table starts after 2013, so give the 2013 rate here.
    legal_table = tmp_path / "legal.yaml"
    legal_table.write_text('- semester: 2013-H1\n  rate: "0.04"\n', encoding="utf-8")
    monkeypatch.setitem(app.config, "LEGAL_RATES_FILE", str(legal_table))
    debtor.contract_rate = Decimal("15.000")
    db.session.commit()
    rates = load_rate_table()
    legal = load_legal_rate_table(legal_table)

    context = letter_context(
        recipient_of(debtor),
        [invoice_line(i) for i in claimable_invoices(debtor)],
        TODAY,
    )

    expected = [
        compute_penalty(
            i.open_amount, i.due_date, None, TODAY, rates, Decimal("15.000"), legal
        )
        for i in claimable_invoices(debtor)
    ]
    assert [line.interest for line in context["invoices"]] == [
        p.interest for p in expected
    ]
    assert [line.interest for line in context["invoices"]] == [
        Decimal("30.82"),
        Decimal("3.95"),
    ]
    assert context["totals"] == {
        "open": Decimal("1730.50"),
        "interest": Decimal("34.77"),
        "indemnity": Decimal("80.00"),
        "claimed": Decimal("1845.27"),
    }


def test_html_copy_escapes_customer_data(app):
    customer = add_customer("C-9", name="<script>alert(1)</script> SARL")
    add_invoice(customer, "<b>F-1</b>", days_ago(12), "10.00")
    db.session.commit()

    rendered = compose_letter(
        customer,
        claimable_invoices(customer),
        "first_reminder",
        "fr",
        TODAY,
        with_pdf=True,
    )

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; SARL" in rendered.html
    assert "&lt;b&gt;F-1&lt;/b&gt;" in rendered.html
    assert "<b>F-1</b>" in pdf_text(rendered.pdf)


@pytest.mark.parametrize(
    "key", ["courtesy_reminder", "first_reminder", "second_reminder", "formal_notice"]
)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_default_template_renders(app, key, language):
    subject, body = read_default_template(key, language)

    rendered = preview_template(subject, body, language, TODAY)

    assert rendered.subject == subject
    assert "C-0001" in pdf_text(rendered.pdf)


@pytest.mark.parametrize(
    "subject, body, field, message",
    [
        ("Objet", "<p>{{ customer.name </p>", "body", "line 1"),
        ("Objet {{ ", "<p>x</p>", "subject", "line 1"),
        ("Objet", "<p>{{ custmer.name }}</p>", "body", "'custmer' is undefined"),
        ("Objet", "<p>{{ customer.__class__ }}</p>", "body", "unsafe"),
        ("Objet", "<p>{{ ''.__class__.__mro__ }}</p>", "body", "unsafe"),
        ("Objet", "<p>{{ 'x' * 1000000 }}</p>", "body", "too long"),
        ("Objet", "<p>{{ 10 ** 1000 }}</p>", "body", "exponents"),
        ("Objet", "<p>{{ 1 / 0 }}</p>", "body", "ZeroDivisionError"),
        ("Objet", "<p>{{ 'abc'|money }}</p>", "body", "InvalidOperation"),
        ("Objet", '<img src="/etc/passwd">', "body", "<img> is not allowed"),
        ("Objet", "<script>alert(1)</script>", "body", "<script> is not allowed"),
        ("Objet", '<p onclick="x()">a</p>', "body", "'onclick' is not allowed"),
        ("Objet", '<p align="middle">a</p>', "body", "align='middle' is invalid"),
        ("Objet", "<table><tr><td><b>x</b></td></tr></table>", "body", "table cell"),
        ("", "<p>x</p>", "subject", "empty"),
        ("{{ 'x' * 201 }}", "<p>x</p>", "subject", "longer than 200"),
    ],
)
def test_template_error_is_reported(app, subject, body, field, message):
    with pytest.raises(LetterTemplateError) as caught:
        preview_template(subject, body, "fr", TODAY)

    assert caught.value.field == field
    assert message in caught.value.detail


@pytest.mark.parametrize(
    "body",
    [
        "<p align='justify'>a <b>b</b> <em>c</em> <u>d</u><br>e</p>",
        "<h2>T</h2><ul><li>a</li></ul><ol><li>b</li></ol><hr>",
        "<table><thead><tr><th colspan='2'>A</th></tr></thead>"
        "<tbody><tr><td>1</td><td align='right'>2</td></tr></tbody></table>",
    ],
)
def test_allowed_markup_passes(body):
    check_markup(body)


def test_markup_error_names_line():
    with pytest.raises(LetterMarkupError, match="line 3"):
        check_markup("<p>a</p>\n<p>b</p>\n<iframe></iframe>")


def test_sent_letter_stays_unchanged_after_template_edit(debtor):
    manager = add_user("manager@test.example", "manager")
    invoice_ids = [i.id for i in claimable_invoices(debtor)]
    letter = send_letter(debtor, "first_reminder", "fr", invoice_ids, manager, TODAY)
    html, pdf = letter.html, letter.pdf

    save_letter_template(
        "first_reminder", "fr", "Nouvel objet", "<p>Autre texte</p>", manager, TODAY
    )
    db.session.expire_all()

    stored = db.session.get(type(letter), letter.id)
    assert stored.html == html
    assert stored.pdf == pdf
    assert stored.subject == "Relance : factures impayées"
    again = send_letter(debtor, "first_reminder", "fr", invoice_ids, manager, TODAY)
    assert again.subject == "Nouvel objet"


def test_template_row_created_on_first_use(debtor):
    manager = add_user("manager@test.example", "manager")
    assert db.session.scalars(select(LetterTemplate)).all() == []

    send_letter(
        debtor,
        "first_reminder",
        "en",
        [claimable_invoices(debtor)[0].id],
        manager,
        TODAY,
    )

    rows = db.session.scalars(select(LetterTemplate)).all()
    assert [(row.key, row.language) for row in rows] == [("first_reminder", "en")]
    assert rows[0].subject == "Reminder: unpaid invoices"


def test_seed_loads_every_default_once(app):
    created = seed_letter_templates()
    again = seed_letter_templates()

    assert len(created) == 8
    assert again == []


def test_invalid_template_is_not_saved(app):
    manager = add_user("manager@test.example", "manager")

    with pytest.raises(LetterTemplateError):
        save_letter_template(
            "first_reminder", "fr", "Objet", "<p>{{ x </p>", manager, TODAY
        )
    db.session.rollback()

    assert db.session.scalars(select(LetterTemplate)).all() == []


def test_collector_cannot_send_formal_notice(debtor):
    add_team("team-a")
    db.session.commit()
    collector = add_user("collector@test.example", "collector", "team-a")

    with pytest.raises(LetterPermissionError):
        send_letter(
            debtor,
            "formal_notice",
            "fr",
            [claimable_invoices(debtor)[0].id],
            collector,
            TODAY,
        )


@pytest.mark.parametrize("bad_ids", [[], [999999]])
def test_letter_needs_claimable_invoices(debtor, bad_ids):
    manager = add_user("manager@test.example", "manager")

    with pytest.raises(LetterError, match="open, undisputed"):
        send_letter(debtor, "first_reminder", "fr", bad_ids, manager, TODAY)


def test_disputed_invoice_cannot_be_claimed(debtor):
    manager = add_user("manager@test.example", "manager")
    disputed = add_invoice(debtor, "F-1003", days_ago(30), "50.00", disputed=True)
    db.session.commit()

    with pytest.raises(LetterError):
        send_letter(debtor, "first_reminder", "fr", [disputed.id], manager, TODAY)


def test_unknown_template_is_reported(debtor):
    manager = add_user("manager@test.example", "manager")

    with pytest.raises(LetterError, match="no letter template"):
        send_letter(
            debtor,
            "no_such_letter",
            "fr",
            [claimable_invoices(debtor)[0].id],
            manager,
            TODAY,
        )


def test_missing_rate_is_reported(app, debtor, tmp_path, monkeypatch):
    table = tmp_path / "ecb.yaml"
    table.write_text('- semester: 2020-H1\n  rate: "0.00"\n', encoding="utf-8")
    monkeypatch.setitem(app.config, "ECB_RATES_FILE", str(table))

    with pytest.raises(
        LetterError, match="No ECB main refinancing rate for semester 2013-H1"
    ):
        _formal_notice(debtor, "fr")


@pytest.mark.parametrize(
    ("template_key", "number", "message"),
    [
        ("first_reminder", "F-2001", "not past due yet: F-2001"),
        ("formal_notice", "F-2001", "not past due yet: F-2001"),
        ("courtesy_reminder", "F-1001", "already past due: F-1001"),
    ],
)
def test_letter_rejects_wrong_due_dates(debtor, template_key, number, message):
    add_invoice(debtor, "F-2001", TODAY + dt.timedelta(days=10), "300.00")
    db.session.commit()
    manager = add_user("boss@test.example", "manager")
    invoice_ids = [i.id for i in claimable_invoices(debtor) if i.number == number]

    with pytest.raises(LetterError, match=message):
        send_letter(debtor, template_key, "fr", invoice_ids, manager, TODAY)


def test_courtesy_reminder_for_invoice_not_due(debtor):
    add_invoice(debtor, "F-2002", TODAY + dt.timedelta(days=5), "120.00")
    db.session.commit()
    manager = add_user("boss2@test.example", "manager")
    invoice_ids = [i.id for i in claimable_invoices(debtor) if i.number == "F-2002"]

    letter = send_letter(debtor, "courtesy_reminder", "fr", invoice_ids, manager, TODAY)

    assert "F-2002" in letter.html
