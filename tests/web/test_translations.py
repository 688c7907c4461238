"""The French catalog covers every message, and the compiled file matches it."""

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import REPO

CATALOG_DIR = REPO / "app" / "translations" / "fr" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "_l": None, "lazy_gettext": None, "gettext": None,
            "ngettext": (1, 2), "N_": None}
SOURCE_DIRS = [REPO / "app", REPO / "migration"]


def _source_messages() -> set[str]:
    messages = set()
    for directory in SOURCE_DIRS:
        found = extract_from_dir(
            directory, method_map=METHODS, keywords=KEYWORDS, comment_tags=()
        )
        for _filename, _lineno, message, _comments, _context in found:
            messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def _catalog():
    with open(CATALOG_DIR / "messages.po", "rb") as handle:
        return read_po(handle, locale="fr")


def test_every_message_has_french_translation():
    catalog = _catalog()
    translated = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            translated[key] = strings

    missing = sorted(_source_messages() - translated.keys())
    assert missing == [], "run `make translations` and translate these"


def test_compiled_catalog_matches_po():
    catalog = _catalog()
    with open(CATALOG_DIR / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)
    compiled_strings = {_key(m.id): _key(m.string) for m in compiled if m.id}
    po_strings = {_key(m.id): _key(m.string) for m in catalog if m.id and not m.fuzzy}

    assert compiled_strings == po_strings, "run `make translations` to recompile"


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value
