"""Login throttling, session revocation, safe errors and response headers."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.config import instance_secret_key
from app.extensions import db
from tests.conftest import PASSWORD


def test_login_throttled_after_five_failures(client, auth, users):
    for _attempt in range(5):
        assert auth.login("manager@test.example", "wrong-password").status_code == 200

    response = auth.login("manager@test.example")

    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)
    assert client.get("/ageing").status_code == 302


def test_throttle_is_per_email(auth, users):
    for _attempt in range(5):
        auth.login("manager@test.example", "wrong-password")

    assert auth.login("admin@test.example").status_code == 302


def test_success_resets_failure_count(auth, users):
    for _attempt in range(4):
        auth.login("manager@test.example", "wrong-password")
    assert auth.login("manager@test.example").status_code == 302
    auth.logout()

    for _attempt in range(4):
        auth.login("manager@test.example", "wrong-password")

    assert auth.login("manager@test.example").status_code == 302


def test_old_session_cookie_dead_after_logout(app, client, auth, users):
    auth.login("manager@test.example")
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie("session", cookie.value)
    assert other.get("/ageing").status_code == 200

    auth.logout()

    assert other.get("/ageing").status_code == 302


def test_deactivate_ends_sessions(client, auth, runner, users):
    auth.login("manager@test.example")

    result = runner.invoke(args=["users", "deactivate", "--email", "manager@test.example"])

    assert result.exit_code == 0, result.output
    assert client.get("/ageing").status_code == 302
    assert auth.login("manager@test.example").status_code == 200
    listing = runner.invoke(args=["users", "list"]).output
    assert "manager@test.example" in listing
    assert "(deactivated)" in listing


def test_set_password_cli(auth, runner, users):
    result = runner.invoke(
        args=["users", "set-password", "--email", "manager@test.example",
              "--password", "brand-new-secret"]
    )

    assert result.exit_code == 0, result.output
    assert auth.login("manager@test.example").status_code == 200
    assert auth.login("manager@test.example", "brand-new-secret").status_code == 302
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "user.password")
    )
    assert entry.target == "manager@test.example"


@pytest.mark.parametrize(
    ("email", "name", "password", "message"),
    [
        ("a@", "A", "long-enough-1", "not a valid email address"),
        ("x" * 250 + "@b.fr", "A", "long-enough-1", "not a valid email address"),
        ("a@b.fr", "   ", "long-enough-1", "the name must not be empty"),
        ("a@b.fr", "A", " " * 10, "must not be only spaces"),
    ],
)
def test_users_create_rejects_unusable_accounts(runner, users, email, name, password, message):
    result = runner.invoke(
        args=["users", "create", "--email", email, "--name", name, "--role", "manager",
              "--password", password]
    )

    assert result.exit_code == 1
    assert message in result.output


def test_next_with_newline_is_ignored(client, users):
    response = client.post(
        "/login?next=/ageing%0d%0aSet-Cookie:x=1",
        data={"email": "manager@test.example", "password": PASSWORD},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("customer_id", ["9223372036854775808", "99999999999999999999999"])
def test_huge_customer_id_is_404(client, auth, users, customer_id):
    auth.login("admin@test.example")

    assert client.get(f"/customers/{customer_id}").status_code == 404


def test_csrf_failure_page_is_translated(app, client, users):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"email": "a@b.fr", "password": "x"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False

    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_get_logout_shows_translated_405(client, auth, users):
    auth.login("manager@test.example")

    response = client.get("/logout")

    assert response.status_code == 405
    assert "Action non autorisée" in response.get_data(as_text=True)


def test_security_headers(client, auth, users):
    auth.login("manager@test.example")

    response = client.get("/ageing")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_language_does_not_leak_to_next_user(client, auth, users):
    auth.login("manager@test.example")
    client.post("/language/en")
    auth.logout()

    auth.login("admin@test.example")

    assert "Balance âgée" in client.get("/ageing").get_data(as_text=True)


def test_language_chosen_before_login_is_kept(client, auth, users):
    client.post("/language/en")

    auth.login("admin@test.example")

    assert "<h1>Ageing on" in client.get("/ageing").get_data(as_text=True)


def test_bogus_language_keeps_next(client, auth, users):
    auth.login("manager@test.example")

    response = client.post("/language/xx", data={"next": "/ageing"})

    assert response.headers["Location"] == "/ageing"


def test_role_shown_by_label(client, auth, users):
    auth.login("lead@test.example")

    assert "(Cheffe ou chef de projet)" in client.get("/").get_data(as_text=True)


def test_instance_secret_key_is_created_once(tmp_path):
    first = instance_secret_key(str(tmp_path))
    second = instance_secret_key(str(tmp_path))

    assert first == second
    assert len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
