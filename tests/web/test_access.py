"""Every page checks login and role; no customer of another team leaks."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.ledger.models import Customer

PAGES = ["/worklist", "/ageing", "/customers/{own}", "/customers/{other}"]

# Expected status per role for each page; {own} is a customer of team country-391,
# {other} one of country-406.
EXPECTED = {
    "admin": [200, 200, 200, 200],
    "manager": [200, 200, 200, 200],
    "collector": [200, 200, 200, 404],
    "collector_406": [200, 200, 404, 200],
    "lead": [403, 403, 403, 403],
    "trainee": [403, 403, 403, 403],
}


@pytest.fixture
def customer_ids(users):
    def first_of(team_code):
        return db.session.scalar(
            select(Customer.id)
            .where(Customer.team.has(code=team_code))
            .order_by(Customer.id)
        )

    return {"own": first_of("country-391"), "other": first_of("country-406")}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("page_index", range(len(PAGES)))
def test_page_access_by_role(client, auth, users, customer_ids, role, page_index):
    auth.login(users[role].email)
    url = PAGES[page_index].format(**customer_ids)

    assert client.get(url).status_code == EXPECTED[role][page_index]


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_login(client, users, customer_ids, page):
    response = client.get(page.format(**customer_ids))

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_unknown_customer_is_404(client, auth, users):
    auth.login("admin@test.example")

    assert client.get("/customers/999999").status_code == 404


def test_trainee_home_shows_no_ledger(client, auth, users):
    auth.login("trainee@test.example")

    page = client.get("/").get_data(as_text=True)
    assert "/worklist" not in page
    assert "/ageing" not in page
