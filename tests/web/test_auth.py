"""Login, logout, CSRF, safe redirects and the users CLI."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.extensions import db
from tests.conftest import PASSWORD


def test_login_redirects_collector_to_worklist(client, auth, users):
    response = auth.login("collector@test.example")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/worklist"


def test_login_wrong_password(client, auth, users):
    response = auth.login("collector@test.example", "not-the-password")

    assert response.status_code == 200
    assert "Adresse e-mail ou mot de passe incorrect." in response.get_data(as_text=True)
    assert client.get("/worklist").status_code == 302
    failed = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "login.failed")
    )
    assert failed.actor_label == "collector@test.example"


def test_login_unknown_email(auth, users):
    response = auth.login("nobody@test.example")

    assert response.status_code == 200
    assert "incorrect" in response.get_data(as_text=True)


def test_login_is_case_insensitive_on_email(auth, users):
    assert auth.login("Collector@Test.Example").status_code == 302


def test_inactive_user_cannot_log_in(auth, users):
    users["collector"].active = False
    db.session.commit()

    assert auth.login("collector@test.example").status_code == 200


def test_login_audited(auth, users):
    auth.login("manager@test.example")

    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login"))
    assert entry.actor_id == users["manager"].id


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/ageing", "/ageing"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_next_only_on_site(client, users, next_url, expected):
    response = client.post(
        "/login?next=" + next_url,
        data={"email": "manager@test.example", "password": PASSWORD},
    )

    assert response.headers["Location"] == expected


def test_logout_needs_post(client, auth, users):
    auth.login("manager@test.example")

    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/ageing").status_code == 302


def test_login_form_requires_csrf_token(app, client, users):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(
            "/login", data={"email": "manager@test.example", "password": PASSWORD}
        )
        assert response.status_code == 400
        assert client.get("/ageing").status_code == 302

        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post(
            "/login",
            data={"email": "manager@test.example", "password": PASSWORD,
                  "csrf_token": token},
        )
        assert response.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_password_is_hashed(users):
    user = users["admin"]

    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD.upper())


def test_users_create_cli(runner, ibm_loaded):
    result = runner.invoke(
        args=["users", "create", "--email", "new@test.example", "--name", "Nina",
              "--role", "collector", "--team", "country-770", "--password", "s3cret-pass"]
    )

    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new@test.example"))
    assert user.role == "collector"
    assert user.team.code == "country-770"
    assert user.check_password("s3cret-pass")


def test_users_create_cli_prompts_for_password(runner, ibm_loaded):
    result = runner.invoke(
        args=["users", "create", "--email", "p@test.example", "--name", "P",
              "--role", "manager"],
        input="long-enough-1\nlong-enough-1\n",
    )

    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "p@test.example"))
    assert user.check_password("long-enough-1")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "boss"], "Invalid value for '--role'"),
        (["--role", "collector", "--team", "country-1"], "unknown team 'country-1'"),
        (["--role", "collector"], "a collector needs a team"),
        (["--role", "manager", "--password", "short"], "at least 8 characters"),
    ],
)
def test_users_create_cli_rejects_bad_input(runner, ibm_loaded, extra, message):
    args = ["users", "create", "--email", "x@test.example", "--name", "X"]
    if "--password" not in extra:
        extra = [*extra, "--password", "long-enough-1"]
    result = runner.invoke(args=args + extra)

    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(User).where(User.email == "x@test.example")) is None


def test_users_create_cli_rejects_duplicate(runner, users):
    result = runner.invoke(
        args=["users", "create", "--email", "admin@test.example", "--name", "A",
              "--role", "admin", "--password", "long-enough-1"]
    )

    assert result.exit_code == 1
    assert "already exists" in result.output
