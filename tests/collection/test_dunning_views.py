"""Dunning and letter pages: access by role and team, runs, approval, execution,
letters as PDF, template editing, and the feature flags."""

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.collection.dunning import run_dunning
from app.collection.letters import claimable_invoices, send_letter
from app.collection.models import DunningAction, DunningPolicy, Letter, LetterTemplate
from app.extensions import db
from app.ledger.models import Customer
from tests.collection.dunning_factories import (
    TODAY,
    add_invoice,
    days_ago,
    pdf_text,
)
from tests.collection.dunning_steps import add_done_action

OWN = "7209-MDWKR"  # team country-391, one undisputed invoice 9 days late
OTHER = "0783-PEPYR"  # team country-406, one undisputed invoice 4 days late


def _customer(reference: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.legacy_id == reference))


def _sample_overdue_invoice(reference: str):
    return next(
        invoice
        for invoice in claimable_invoices(_customer(reference))
        if invoice.legacy_source != "test" and invoice.due_date < TODAY
    )


@pytest.fixture
def world(users):
    """An action and a letter for one customer of each collector team."""
    own, other = _customer(OWN), _customer(OTHER)
    # Old enough for a first reminder letter on 2013-06-30.
    add_invoice(own, "T-391", days_ago(12), "80.00")
    add_invoice(other, "T-406", days_ago(12), "70.00")
    db.session.commit()
    run_dunning(TODAY)
    actions = {
        action.customer.legacy_id: action
        for action in db.session.scalars(select(DunningAction))
        if action.channel == "letter"
    }
    with_manager = users["manager"]
    # The letter claims the sample's own invoice, because T-391 and T-406 have
    # a first reminder to send, which a letter by hand may not duplicate.
    letters = {
        reference: send_letter(
            _customer(reference),
            "first_reminder",
            "fr",
            [_sample_overdue_invoice(reference).id],
            with_manager,
            TODAY,
        )
        for reference in (OWN, OTHER)
    }
    return {
        "own": _customer(OWN).id,
        "other": _customer(OTHER).id,
        "own_action": actions[OWN].id,
        "other_action": actions[OTHER].id,
        "own_letter": letters[OWN].id,
        "other_letter": letters[OTHER].id,
    }


PAGES = [
    "/dunning",
    "/dunning/policies",
    "/letter-templates",
    "/letter-templates/formal_notice/fr",
    "/customers/{own}/dunning",
    "/customers/{other}/dunning",
    "/customers/{own}/letters",
    "/customers/{other}/letters",
    "/dunning/actions/{own_action}",
    "/dunning/actions/{other_action}",
    "/letters/{own_letter}",
    "/letters/{other_letter}/pdf",
]

# Expected status per role for each page above; "own" is team country-391's.
EXPECTED = {
    "admin": [200] * 12,
    "manager": [200] * 12,
    "collector": [200, 403, 403, 403, 200, 404, 200, 404, 200, 404, 200, 404],
    "collector_406": [200, 403, 403, 403, 404, 200, 404, 200, 404, 200, 404, 200],
    "lead": [403] * 12,
    "trainee": [403] * 12,
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("page_index", range(len(PAGES)))
def test_page_access_by_role(client, auth, users, world, role, page_index):
    auth.login(users[role].email)

    response = client.get(PAGES[page_index].format(**world))

    assert response.status_code == EXPECTED[role][page_index]


POSTS = [
    ("/dunning/run", {"on": "2013-06-30"}),
    ("/dunning/actions/{own_action}/approve", {}),
    ("/dunning/actions/{own_action}/cancel", {}),
    ("/dunning/policies", {"name": "X"}),
    ("/customers/{own}/dunning/policy", {"policy_id": "0"}),
    ("/letter-templates", {"key": "new_one"}),
]


@pytest.mark.parametrize("role", ["collector", "lead", "trainee"])
@pytest.mark.parametrize("url, data", POSTS)
def test_manager_actions_forbidden(client, auth, users, world, role, url, data):
    auth.login(users[role].email)

    assert client.post(url.format(**world), data=data).status_code == 403


@pytest.mark.parametrize("url", ["/dunning", "/customers/{own}/letters"])
def test_anonymous_is_sent_to_login(client, users, world, url):
    response = client.get(url.format(**world))

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_manager_runs_dry_then_real(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    dry = client.post("/dunning/run", data={"on": "2013-06-30", "dry_run": "y"})
    html = dry.get_data(as_text=True)

    assert 'id="dry-run"' in html
    assert "7 actions to create." in html
    assert db.session.scalars(select(DunningAction)).all() == []

    real = client.post("/dunning/run", data={"on": "2013-06-30"}).get_data(as_text=True)

    assert "7 actions created." in real
    assert "9014-WENVB" in real
    assert len(db.session.scalars(select(DunningAction)).all()) == 7


def test_run_with_bad_date_is_rejected(client, auth, users):
    auth.login("manager@test.example")

    response = client.post("/dunning/run", data={"on": "30/06/2013"})

    assert response.status_code == 302
    assert db.session.scalars(select(DunningAction)).all() == []


def test_collector_sees_own_team_actions_only(client, auth, users, world):
    auth.login("collector@test.example")

    html = client.get("/dunning?status=all").get_data(as_text=True)

    assert OWN in html
    assert OTHER not in html
    assert 'id="run-form"' not in html


@pytest.mark.parametrize(
    "status", ["open", "ready", "done", "pending_approval", "cancelled", "all", "bogus"]
)
def test_action_list_filters(client, auth, users, world, status):
    auth.login("manager@test.example")

    assert client.get(f"/dunning?status={status}").status_code == 200


def test_approval_through_page_is_audited(client, auth, users):
    customer = _customer(OWN)
    customer.address = "2 rue du Port\n13002 Marseille"
    old = add_invoice(customer, "T-OLD", days_ago(60), "300.00")
    add_done_action(customer, "Première relance", [old], days_ago(45))
    add_done_action(customer, "Seconde relance", [old], days_ago(30))
    add_done_action(customer, "Appel de relance", [old], days_ago(20))
    db.session.commit()
    run_dunning(TODAY)
    action = db.session.scalar(
        select(DunningAction).where(DunningAction.channel == "formal_notice")
    )
    auth.login("manager@test.example")

    response = client.post(
        f"/dunning/actions/{action.id}/approve", follow_redirects=True
    )

    assert response.status_code == 200
    db.session.refresh(action)
    assert action.status == "ready"
    assert action.approved_by_id == users["manager"].id
    assert (
        db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "dunning.approve")
        ).target
        == f"dunning_action:{action.id}"
    )


def test_collector_sends_letter_action_and_downloads_pdf(client, auth, users, world):
    auth.login("collector@test.example")

    response = client.post(
        f"/dunning/actions/{world['own_action']}/execute", data={"language": "en"}
    )

    assert response.status_code == 302
    letter = db.session.scalar(
        select(Letter).where(Letter.action_id == world["own_action"])
    )
    assert letter.language == "en"
    pdf = client.get(f"/letters/{letter.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        f"attachment; filename={OWN}-first_reminder-{letter.id}.pdf"
    )
    assert pdf.data == letter.pdf
    assert "T-391" in pdf_text(pdf.data)


def test_execute_with_unknown_language_is_rejected(client, auth, users, world):
    auth.login("collector@test.example")

    client.post(
        f"/dunning/actions/{world['own_action']}/execute", data={"language": "de"}
    )

    assert db.session.get(DunningAction, world["own_action"]).status == "ready"


def test_stored_letter_is_served_with_strict_policy(client, auth, users, world):
    auth.login("collector@test.example")

    response = client.get(f"/letters/{world['own_letter']}")

    assert response.status_code == 200
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert (
        response.get_data(as_text=True)
        == db.session.get(Letter, world["own_letter"]).html
    )


def test_collector_writes_letter_for_customer(client, auth, users):
    customer = _customer(OTHER)
    invoice = claimable_invoices(customer)[0]
    auth.login("collector406@test.example")

    page = client.get(f"/customers/{customer.id}/letters").get_data(as_text=True)
    assert 'value="formal_notice"' not in page
    assert re.search(rf'<input checked [^>]*value="{invoice.id}"', page)

    response = client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": "letter-form-key-0002",
            "template_key": "first_reminder",
            "language": "fr",
            "invoices": [invoice.id],
        },
    )

    assert response.status_code == 302
    letter = db.session.scalar(select(Letter))
    assert letter.created_by_id == users["collector_406"].id
    assert "0783-PEPYR" in pdf_text(letter.pdf)
    listing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/letters/{letter.id}/pdf" in listing


def _post_letter(client, customer, invoice, key):
    return client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": key,
            "template_key": "first_reminder",
            "language": "fr",
            "invoices": [invoice.id],
        },
    )


def test_letter_form_sent_twice_stores_one_letter(client, auth, users):
    customer = _customer(OTHER)
    invoice = claimable_invoices(customer)[0]
    auth.login("collector406@test.example")
    page = client.get(f"/customers/{customer.id}/letters").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page)[1]

    first = _post_letter(client, customer, invoice, key)
    again = _post_letter(client, customer, invoice, key)

    [letter] = db.session.scalars(select(Letter)).all()
    assert letter.submission_key == key
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"].endswith(f"?sent={letter.id}")
    listing = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Cette lettre a déjà été archivée comme envoyée" in listing
    # The next page view gives the form a new key.
    assert key not in listing.split('name="submission_key"')[1][:80]


@pytest.mark.parametrize("key", ["", "short", "x" * 70, "bad key with spaces!"])
def test_letter_form_without_valid_key_stores_nothing(client, auth, users, key):
    customer = _customer(OTHER)
    invoice = claimable_invoices(customer)[0]
    auth.login("collector406@test.example")

    response = _post_letter(client, customer, invoice, key)

    assert response.status_code == 200
    assert "Ce formulaire est incomplet" in response.get_data(as_text=True)
    assert db.session.scalars(select(Letter)).all() == []


def test_letter_key_of_another_customer_stores_nothing(client, auth, users):
    customer = _customer(OTHER)
    other = next(
        candidate
        for candidate in db.session.scalars(
            select(Customer)
            .where(Customer.team_id == customer.team_id, Customer.id != customer.id)
            .order_by(Customer.id)
        )
        if claimable_invoices(candidate)
    )
    auth.login("collector406@test.example")
    _post_letter(
        client, customer, claimable_invoices(customer)[0], "letter-form-key-9999"
    )

    response = _post_letter(
        client, other, claimable_invoices(other)[0], "letter-form-key-9999"
    )

    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Letter)) == 1


def test_collector_cannot_post_formal_notice(client, auth, users):
    customer = _customer(OTHER)
    invoice = claimable_invoices(customer)[0]
    auth.login("collector406@test.example")

    client.post(
        f"/customers/{customer.id}/letters",
        data={
            "submission_key": "letter-form-key-0003",
            "template_key": "formal_notice",
            "language": "fr",
            "invoices": [invoice.id],
        },
    )

    assert db.session.scalars(select(Letter)).all() == []


def test_letter_preview_stores_nothing(client, auth, users):
    customer = _customer(OTHER)
    auth.login("collector406@test.example")

    response = client.get(
        f"/customers/{customer.id}/letters/preview?template_key=first_reminder&language=en"
    )

    assert response.status_code == 200
    assert "Reminder: unpaid invoices" in response.get_data(as_text=True)
    assert db.session.scalars(select(Letter)).all() == []
    assert db.session.scalars(select(LetterTemplate)).all() == []


def test_template_preview_and_save(client, auth, users):
    auth.login("manager@test.example")
    url = "/letter-templates/first_reminder/en"
    body = "<p>Dear {{ customer.name }}, please pay {{ totals.open|money }}.</p>"

    preview = client.post(
        url, data={"subject": "Pay now", "body": body, "preview": "y"}
    )

    html = preview.get_data(as_text=True)
    assert 'id="template-preview"' in html
    assert "Exemple Industries SARL, please pay €1,730.50." in html
    assert db.session.scalars(select(LetterTemplate)).all() == []

    saved = client.post(url, data={"subject": "Pay now", "body": body, "save": "y"})

    assert saved.status_code == 302
    row = db.session.scalar(select(LetterTemplate))
    assert (row.key, row.language, row.subject, row.body) == (
        "first_reminder",
        "en",
        "Pay now",
        body,
    )
    assert row.updated_by_id == users["manager"].id
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "letter_template.update")
    )
    assert entry.after == {"subject": "Pay now", "body": body}


def test_template_pdf_preview(client, auth, users):
    auth.login("manager@test.example")

    response = client.post(
        "/letter-templates/formal_notice/fr",
        data={
            "subject": "Mise en demeure",
            "body": "<p>Client {{ customer.reference }}</p>",
            "preview_pdf": "y",
        },
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "Client C-0001" in pdf_text(response.data)
    assert db.session.scalars(select(LetterTemplate)).all() == []


def test_template_error_is_shown_not_500(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")

    response = client.post(
        "/letter-templates/first_reminder/en",
        data={"subject": "Pay", "body": "<p>{{ customer.name </p>", "save": "y"},
    )

    assert response.status_code == 200
    error = re.search(r'id="template-error">(.*?)</p>', response.get_data(as_text=True))
    assert error.group(1).startswith("The body cannot be rendered: line 1:")
    assert db.session.scalars(select(LetterTemplate)).all() == []


def test_restore_default_template(client, auth, users):
    auth.login("manager@test.example")
    url = "/letter-templates/first_reminder/fr"
    client.post(url, data={"subject": "Autre", "body": "<p>x</p>", "save": "y"})

    client.post(url + "/restore")

    assert (
        db.session.scalar(select(LetterTemplate)).subject
        == "Relance : factures impayées"
    )


def test_new_template_key(client, auth, users):
    auth.login("manager@test.example")

    response = client.post("/letter-templates", data={"key": "final_reminder"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/letter-templates/final_reminder/fr"
    rows = db.session.scalars(
        select(LetterTemplate).order_by(LetterTemplate.language)
    ).all()
    assert [(row.key, row.language) for row in rows] == [
        ("final_reminder", "en"),
        ("final_reminder", "fr"),
    ]


@pytest.mark.parametrize("key", ["Bad-Key", "x", "first_reminder"])
def test_invalid_new_template_key(client, auth, users, key):
    auth.login("manager@test.example")

    response = client.post("/letter-templates", data={"key": key})

    assert response.status_code == 200
    assert db.session.scalars(select(LetterTemplate)).all() == []


def test_unknown_template_page_is_404(client, auth, users):
    auth.login("manager@test.example")

    assert client.get("/letter-templates/no_such/fr").status_code == 404
    assert client.get("/letter-templates/first_reminder/de").status_code == 404


def test_policy_pages_edit_levels(client, auth, users):
    auth.login("manager@test.example")
    client.get("/dunning/policies")
    created = client.post("/dunning/policies", data={"name": "Grands comptes"})
    policy_url = created.headers["Location"]

    added = client.post(
        policy_url + "/levels",
        data={
            "name": "Appel J+5",
            "days_from_due": "5",
            "channel": "call",
            "template_key": "",
            "min_amount": "1 000,50",
        },
    )

    assert added.status_code == 302
    page = client.get(policy_url).get_data(as_text=True)
    assert "Appel J+5" in page
    assert "+5" in page


def test_invalid_level_shows_error(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")
    policy_url = client.post("/dunning/policies", data={"name": "P"}).headers[
        "Location"
    ]

    response = client.post(
        policy_url + "/levels",
        data={
            "name": "Letter",
            "days_from_due": "10",
            "channel": "letter",
            "template_key": "",
            "min_amount": "0",
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Choose the letter template that this level sends." in page


def test_manager_assigns_policy_to_customer(client, auth, users):
    auth.login("manager@test.example")
    client.get("/dunning/policies")
    client.post("/dunning/policies", data={"name": "Grands comptes"})
    customer = _customer(OWN)
    policy_id = db.session.scalar(
        select(Customer.dunning_policy_id).where(Customer.id == customer.id)
    )
    assert policy_id is None
    chosen = db.session.scalar(
        select(DunningPolicy).where(DunningPolicy.name == "Grands comptes")
    )

    client.post(
        f"/customers/{customer.id}/dunning/policy", data={"policy_id": str(chosen.id)}
    )

    db.session.refresh(customer)
    assert customer.dunning_policy_id == chosen.id
    page = client.get(f"/customers/{customer.id}/dunning").get_data(as_text=True)
    assert "Grands comptes" in page


@pytest.fixture
def plan_without_dunning(app, tmp_path, monkeypatch):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Worklist.\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(app.config, "FEATURE_FLAGS_PATH", str(path))
    return path


@pytest.mark.parametrize(
    "url",
    [
        "/dunning",
        "/dunning/policies",
        "/letter-templates",
        "/customers/{own}/letters",
        "/letters/{own_letter}",
    ],
)
def test_pages_hidden_while_flags_off(
    client, auth, users, world, plan_without_dunning, url
):
    auth.login("manager@test.example")

    assert client.get(url.format(**world)).status_code == 404


def test_nav_link_follows_flag(client, auth, users, plan_without_dunning):
    auth.login("manager@test.example")

    assert 'data-flag="dunning"' not in client.get("/worklist").get_data(as_text=True)
