"""Admin pages of the migration: access by role, run reports, CSV downloads."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.ledger.models import Invoice
from migration.importer import run_import
from migration.models import ImportRun
from tests.migration.legacy_files import AS_OF, fec_file
from tests.migration.test_pipeline_rejections import MAPPING, VALID, write_export

PAGES = [
    "/admin/migration/",
    "/admin/migration/runs/{run}",
    "/admin/migration/runs/{run}/reconciliation",
    "/admin/migration/runs/{run}/reconciliation.csv",
    "/admin/migration/runs/{run}/rejections.csv",
]
EXPECTED = {
    "admin": 200,
    "manager": 403,
    "collector": 403,
    "lead": 403,
    "trainee": 403,
}


@pytest.fixture
def ibm_run(users):
    return db.session.scalar(select(ImportRun.id))


@pytest.fixture
def rejected_run(app, tmp_path):
    rows = [VALID, "C2;Beta;F2;FA;15/01/2024;14/02/2024;=2+3;10,00"]
    outcome = run_import(
        write_export(tmp_path, rows), mapping=MAPPING, as_of=AS_OF, accept_rejects=True
    )
    return outcome.run_id


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("page", PAGES)
def test_page_access_by_role(client, auth, users, ibm_run, role, page):
    auth.login(users[role].email)

    response = client.get(page.format(run=ibm_run))

    assert response.status_code == EXPECTED[role]


@pytest.mark.parametrize("page", PAGES)
def test_pages_need_login(client, users, ibm_run, page):
    response = client.get(page.format(run=ibm_run))

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_unknown_run_is_404(client, auth, users):
    auth.login(users["admin"].email)

    assert client.get("/admin/migration/runs/999").status_code == 404
    assert client.get("/admin/migration/runs/999/rejections.csv").status_code == 404


def test_nav_link_for_admins_only(client, auth, users):
    auth.login(users["admin"].email)
    admin_page = client.get("/ageing").get_data(as_text=True)
    auth.logout()
    auth.login(users["manager"].email)
    manager_page = client.get("/ageing").get_data(as_text=True)

    assert 'data-nav="migration"' in admin_page
    assert 'data-nav="migration"' not in manager_page


def test_runs_page_lists_runs(client, auth, users, ibm_run):
    auth.login(users["admin"].email)

    page = client.get("/admin/migration/").get_data(as_text=True)

    assert f'data-run="{ibm_run}"' in page
    assert "ibm-accounts-receivable.csv" in page
    assert 'id="no-cutover"' in page


def test_run_page_shows_summary_and_reconciliation(client, auth, users, ibm_run):
    auth.login(users["admin"].email)

    page = client.get(f"/admin/migration/runs/{ibm_run}").get_data(as_text=True)

    assert 'id="run-summary"' in page
    assert ">2466<" in page  # rows read
    assert 'id="reconciliation-status"' in page
    assert f"/admin/migration/runs/{ibm_run}/reconciliation.csv" in page


def test_run_page_lists_rejections_escaped(client, auth, users, rejected_run):
    auth.login(users["admin"].email)
    client.post("/language/en", data={"next": "/"})

    page = client.get(f"/admin/migration/runs/{rejected_run}").get_data(as_text=True)

    assert 'id="rejections"' in page
    assert "<code>=2+3</code>" in page
    assert "amount is unreadable; expected a number such as 1234,56" in page


def test_rejections_csv_guards_formulas(client, auth, users, rejected_run):
    auth.login(users["admin"].email)

    response = client.get(f"/admin/migration/runs/{rejected_run}/rejections.csv")

    assert response.mimetype == "text/csv"
    rows = list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
    )
    assert rows[0] == ["ligne", "colonne", "valeur", "motif"]
    assert rows[1][:3] == ["3", "Montant", "'=2+3"]


def test_reconciliation_page_differences_first(client, auth, users, tmp_path):
    outcome = run_import(fec_file(tmp_path / "fec.txt"), profile="fec", as_of=AS_OF)
    db.session.execute(
        update(Invoice).where(Invoice.number == "FA-020").values(open_amount="70.00")
    )
    db.session.commit()
    from migration.reconcile import reconcile_run

    reconcile_run(db.session.get(ImportRun, outcome.run_id))
    auth.login(users["admin"].email)

    page = client.get(
        f"/admin/migration/runs/{outcome.run_id}/reconciliation"
    ).get_data(as_text=True)

    assert page.index('id="differences"') < page.index('id="customers"')
    assert 'data-customer="411DUR"' in page
    first_customer_row = page.index('data-customer="', page.index('id="customers"'))
    assert page[first_customer_row:].startswith('data-customer="411DUR"')


def test_reconciliation_csv_download(client, auth, users, ibm_run):
    auth.login(users["admin"].email)

    response = client.get(f"/admin/migration/runs/{ibm_run}/reconciliation.csv")

    rows = list(
        csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
    )
    assert len(rows) == 100
    # The admin's page language is French, the default.
    assert {row["Concorde"] for row in rows} == {"oui"}


def test_pages_in_english_and_french(client, auth, users, ibm_run):
    auth.login(users["admin"].email)
    client.post("/language/en", data={"next": "/"})

    page = client.get(f"/admin/migration/runs/{ibm_run}")

    assert page.status_code == 200
    assert "Rows read" in page.get_data(as_text=True)
