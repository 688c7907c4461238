"""Letter templates: the packaged defaults and the editable rows in force.

Default texts live in ``letter_templates/<key>.<language>.html``: the first line
is the subject, then a blank line, then the body. A default is copied into the
``letter_templates`` table the first time a letter is sent with it, when it is
edited, or by ``cadence dunning seed``. From then on the row is the text in force.
Every change to a row is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit import services as audit
from app.auth.models import User
from app.collection.letter_render import LETTER_LANGUAGES, LetterError, preview_template
from app.collection.models import LetterTemplate
from app.extensions import db

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "letter_templates"
FORMAL_NOTICE_KEY = "formal_notice"
TEMPLATE_LABELS = {
    "courtesy_reminder": _l("Courtesy reminder before the due date"),
    "first_reminder": _l("First reminder"),
    "second_reminder": _l("Second reminder"),
    FORMAL_NOTICE_KEY: _l("Formal notice"),
}
# A new template starts as a copy of this one.
STARTER_TEMPLATE_KEY = "first_reminder"
TEMPLATE_KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,63}")


def template_label(key: str) -> str:
    return str(TEMPLATE_LABELS.get(key, key))


def read_default_template(key: str, language: str) -> tuple[str, str] | None:
    """Return the (subject, body) of a packaged default, or None if there is none."""
    path = TEMPLATE_DIR / f"{key}.{language}.html"
    if not TEMPLATE_KEY_PATTERN.fullmatch(key) or not path.is_file():
        return None
    subject, _separator, body = path.read_text(encoding="utf-8").partition("\n\n")
    return subject.strip(), body.strip() + "\n"


def default_template_keys() -> list[str]:
    return sorted({path.name.split(".")[0] for path in TEMPLATE_DIR.glob("*.*.html")})


def template_keys() -> list[str]:
    """Return every template key: the packaged defaults and those created by users."""
    stored = db.session.scalars(select(LetterTemplate.key).distinct())
    return sorted(set(default_template_keys()) | set(stored))


def find_template(key: str, language: str) -> LetterTemplate | None:
    """Return the template in force without writing: the row, else an unsaved
    copy of the packaged default, else None."""
    row = _template_row(key, language)
    if row is not None:
        return row
    default = read_default_template(key, language)
    if default is None:
        return None
    return LetterTemplate(
        key=key, language=language, subject=default[0], body=default[1]
    )


def load_template(key: str, language: str) -> LetterTemplate:
    """Return the stored template, copying the packaged default into the table if
    needed. Raise LetterError when neither exists."""
    row = _template_row(key, language)
    if row is not None:
        return row
    default = read_default_template(key, language)
    if default is None:
        raise LetterError(
            _l(
                "There is no letter template %(key)s in language %(language)s.",
                key=key,
                language=language,
            )
        )
    row = LetterTemplate(
        key=key, language=language, subject=default[0], body=default[1]
    )
    db.session.add(row)
    db.session.flush()
    logger.info("loaded default letter template %s/%s", key, language)
    return row


def seed_letter_templates() -> list[LetterTemplate]:
    """Copy every packaged default that has no row yet into the table, and commit."""
    created = []
    for key in default_template_keys():
        for language in LETTER_LANGUAGES:
            if _template_row(key, language) is None and read_default_template(
                key, language
            ):
                created.append(load_template(key, language))
    db.session.commit()
    return created


def save_letter_template(
    key: str, language: str, subject: str, body: str, actor: User, on: dt.date
) -> LetterTemplate:
    """Store a template after checking that it renders to HTML and PDF, and audit it.

    Raises LetterTemplateError, with nothing saved, when the text fails to render.
    """
    check_template_address(key, language)
    preview_template(subject, body, language, on)
    row = _template_row(key, language)
    before = None
    if row is None:
        row = LetterTemplate(key=key, language=language)
        db.session.add(row)
    else:
        before = {"subject": row.subject, "body": row.body}
    row.subject = subject
    row.body = body
    row.updated_by_id = actor.id
    audit.record(
        "letter_template.update",
        actor=actor,
        target=f"letter_template:{key}/{language}",
        before=before,
        after={"subject": subject, "body": body},
    )
    db.session.commit()
    logger.info("letter template %s/%s saved by %s", key, language, actor.email)
    return row


def create_letter_template(key: str, actor: User) -> None:
    """Create a template key in every language, starting from the first reminder."""
    if not TEMPLATE_KEY_PATTERN.fullmatch(key):
        raise LetterError(
            _l(
                "%(key)s is not a valid template key: use 2 to 64 lowercase letters, "
                "digits or underscores, starting with a letter.",
                key=key,
            )
        )
    if key in template_keys():
        raise LetterError(_l("A letter template %(key)s already exists.", key=key))
    for language in LETTER_LANGUAGES:
        starter = find_template(STARTER_TEMPLATE_KEY, language)
        subject, body = (starter.subject, starter.body) if starter else ("", "")
        db.session.add(
            LetterTemplate(
                key=key,
                language=language,
                subject=subject,
                body=body,
                updated_by_id=actor.id,
            )
        )
    audit.record("letter_template.create", actor=actor, target=f"letter_template:{key}")
    db.session.commit()
    logger.info("letter template %s created by %s", key, actor.email)


def restore_default_template(key: str, language: str, actor: User) -> LetterTemplate:
    """Put the packaged default text back into a template, and audit the change."""
    default = read_default_template(key, language)
    if default is None:
        raise LetterError(
            _l("The template %(key)s has no packaged default text.", key=key)
        )
    row = load_template(key, language)
    before = {"subject": row.subject, "body": row.body}
    row.subject, row.body = default
    row.updated_by_id = actor.id
    audit.record(
        "letter_template.restore_default",
        actor=actor,
        target=f"letter_template:{key}/{language}",
        before=before,
        after={"subject": row.subject, "body": row.body},
    )
    db.session.commit()
    logger.info("letter template %s/%s restored by %s", key, language, actor.email)
    return row


def _template_row(key: str, language: str) -> LetterTemplate | None:
    return db.session.scalar(
        select(LetterTemplate).where(
            LetterTemplate.key == key, LetterTemplate.language == language
        )
    )


def check_template_address(key: str, language: str) -> None:
    if language not in LETTER_LANGUAGES or not TEMPLATE_KEY_PATTERN.fullmatch(key):
        raise LetterError(
            _l(
                "Unknown letter template %(key)s/%(language)s.",
                key=key,
                language=language,
            )
        )
