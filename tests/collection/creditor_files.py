"""A valid creditor file for letter tests, and a writer of variants of it."""

from __future__ import annotations

from pathlib import Path

import yaml

CREDITOR = {
    "name": "Fournitures Durand",
    "legal_form": "SA",
    "share_capital": "250000",
    "address": "3 quai des Orfèvres\n69005 Lyon",
    "city": "Lyon",
    "siren": "404 833 048",
    "rcs_city": "Lyon",
    "vat_number": "FR83404833048",
    "bank_name": "Banque Test",
    "iban": "FR76 1111 2222 2333 3344 4455 517",
    "bic": "TESTFRPPXXX",
    "payment_days": "8",
}


def write_creditor(directory: Path, **changes: str | None) -> Path:
    """Write CREDITOR with ``changes`` (None drops a key) and return the file path."""
    values = {**CREDITOR, **changes}
    values = {key: value for key, value in values.items() if value is not None}
    path = directory / "creditor.yaml"
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    return path
