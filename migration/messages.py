"""Message templates for rejected rows and unreadable files of the legacy readers.

Every text a reader shows about the data comes from the two template tables below, so
a translation only has to provide the same codes with the same named placeholders.
Placeholder values are data (column names, values, line numbers, formats) or a
reason already built from MESSAGES, never other English words.

Templates are English gettext message ids, marked with ``N_`` for extraction. Readers
build the English text, and ``rejection_text`` and ``error_text`` render the same
code and parameters in another language through Flask-Babel.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import force_locale, gettext

from migration.records import Rejection


def N_(template: str) -> str:  # noqa: N802 (the gettext convention for a no-op mark)
    """Mark ``template`` for message extraction and return it unchanged."""
    return template


# Reasons for rejecting one field of one row. ``Rejection.__str__`` already prints the
# line, the column and the value, so a reason starts with what is wrong.
MESSAGES: dict[str, str] = {
    "value_missing": N_("value is missing; column {field} is required"),
    "amount_unreadable": N_(
        "amount is unreadable; expected a number such as {example}"
    ),
    "amount_too_precise": N_(
        "amount has more than {places} decimal places; expected a number such as "
        "{example}"
    ),
    "amount_zero": N_("amount is zero; expected a non-zero amount such as {example}"),
    "debit_and_credit": N_(
        "line has both a debit ({debit}) and a credit ({credit}); expected an amount "
        "in only one of Debit and Credit"
    ),
    "no_debit_or_credit": N_(
        "Debit and Credit are both zero; expected an amount in one of them"
    ),
    "date_unreadable": N_(
        "date is unreadable; expected the format {format}, as in {example}"
    ),
    "date_impossible": N_(
        "date does not exist in the calendar; expected a real date in the format "
        "{format}, as in {example}"
    ),
    "date_out_of_range": N_(
        "date is outside the accepted range; expected a year from {min_year} to "
        "{max_year}"
    ),
    "date_before": N_(
        "date is before the {other_field} {other_value}; expected a date on or after it"
    ),
    "field_count": N_(
        "line has {found} fields; expected {expected} fields separated by {separator}"
    ),
    "duplicate_line": N_(
        "line repeats line {first_line} (same {key_columns}); expected each entry once"
    ),
    "duplicate_document": N_(
        "document {document} of customer {customer} already appears on line "
        "{first_line}; expected each document once per customer"
    ),
    "credit_exceeds_debt": N_(
        "credit larger than the customer's debt: customer {customer} has open credits "
        "of {credits} and open debits of {debits}; expected credits no larger than "
        "debits, or the option credit_exceeds_debt set to allow"
    ),
    "duplicate_due_date": N_(
        "PieceRef {piece_ref} already has a due date on line {first_line}; expected "
        "one due date per PieceRef"
    ),
    "kind_unknown": N_("kind is not a known value; expected one of {expected}"),
    "negative_invoice": N_(
        "amount is negative on an invoice; expected a positive amount, or a credit "
        "kind ({credit_values}) for a credit note"
    ),
    "open_amount_too_large": N_(
        "open amount is larger than the amount {amount}; expected an open amount "
        "from 0 to {amount}"
    ),
    "open_amount_sign": N_(
        "open amount and amount {amount} have opposite signs; expected the same sign"
    ),
    "settled_but_open": N_(
        "document is settled on {settled_date} but its open amount is {open_amount}; "
        "expected an open amount of 0, or an empty {settled_column}"
    ),
    "currency_invalid": N_(
        "currency is not a three-letter code; expected an ISO 4217 code such as EUR"
    ),
    "amount_not_positive": N_(
        "amount is zero or negative; expected an amount greater than zero"
    ),
    "date_invalid_month_first": N_(
        "date is invalid; expected month/day/year such as {example}"
    ),
    "country_not_digits": N_("country code is not digits only; expected digits"),
    "yes_no_expected": N_("value is neither Yes nor No; expected Yes or No"),
    "duplicate_invoice": N_(
        "invoice number {document} already appears on line {first_line}; expected "
        "each invoice once"
    ),
    "customer_unknown": N_(
        "customer {customer} is not in Cadence; expected a customer already loaded, "
        "because the mapping sets customers to existing_only"
    ),
    "paid_but_fully_open": N_(
        "open amount is the whole amount although {settled_column} gives a payment "
        "on {settled_date}; expected an open amount below the amount, or an empty "
        "{settled_column}"
    ),
}

# Reasons for rejecting a whole file or its mapping, raised as ReaderError.
ERRORS: dict[str, str] = {
    "file_empty": N_("{path} is empty; expected a header line and data lines"),
    "no_data_rows": N_(
        "{path} has a header but no data rows; export the old system again"
    ),
    "file_type_unsupported": N_(
        "{path} has the unsupported extension {suffix}; expected .csv, .txt, .tsv or "
        ".xlsx (save .xls files as .xlsx)"
    ),
    "encoding_invalid": N_(
        "{path} is not valid {encoding} text (near line {line}); set the file's real "
        "encoding, for example utf-8, cp1252 or iso-8859-15"
    ),
    "encoding_unknown": N_(
        "encoding {encoding} is unknown; expected a Python codec name such as utf-8, "
        "cp1252 or iso-8859-15"
    ),
    "encoding_undetected": N_(
        "{path} is neither UTF-8 nor {fallback} text; set the file's real encoding"
    ),
    "separator_undetected": N_(
        "{path}: cannot detect the column separator from the header line; expected "
        "one of {candidates}, or set the separator"
    ),
    "header_columns": N_(
        "{path} does not have the FEC columns: missing {missing}; expected the 18 "
        "columns {expected}; found {found}"
    ),
    "header_duplicate": N_(
        "{path}: column {column} appears more than once in the header"
    ),
    "due_dates_invalid": N_(
        'due-dates file {path}, line {line}, value "{value}": {reason}; expected lines '
        "of PieceRef and DueDate such as FA-0001;31/01/2024"
    ),
    "mapping_unreadable": N_("mapping {path} is not valid YAML: {problem}"),
    "mapping_not_a_dict": N_(
        "mapping must be a YAML mapping with a columns key; found {found}"
    ),
    "mapping_key_unknown": N_(
        "mapping has the unknown key {key}; expected keys: {allowed}"
    ),
    "mapping_field_unknown": N_(
        "mapping columns has the unknown field {field}; expected fields: {allowed}"
    ),
    "mapping_field_required": N_(
        "mapping columns lacks the required field {field}; required fields: {required}"
    ),
    "mapping_due_date_source": N_(
        "mapping needs a due date source; map columns.due_date or set payment_term"
    ),
    "option_invalid": N_("option {key} is {value}; expected {expected}"),
    "mapping_kind_unknown": N_(
        "mapping kind_values maps {value} to {kind}; expected one of {allowed}"
    ),
    "column_missing": N_(
        "column {column} (mapped to {field}) is not in the file; file columns: "
        "{columns}"
    ),
    "column_ambiguous": N_(
        "column {column} (mapped to {field}) appears more than once in the file; "
        "rename one of them"
    ),
    "sheet_missing": N_("{path} has no sheet {sheet}; sheets: {sheets}"),
    "payment_term_invalid": N_(
        "payment term {term} is not understood; expected a term such as 30 days, "
        "60 days or 45 days end of month"
    ),
    "date_format_invalid": N_(
        "date format {format} is not supported; expected a pattern built from "
        "%d, %m and %Y or from JJ, MM and AAAA, such as %d/%m/%Y or JJ/MM/AAAA"
    ),
    "columns_missing": N_(
        "{path} lacks the columns {missing}; expected the columns {expected}; found "
        "{found}"
    ),
}

# Full text of a rejection. ``Rejection.__str__`` gives the English version.
REJECTION_LINE = N_('line {line}, column {field}, value "{value}": {reason}')


class ReaderError(ValueError):
    """Error raised when a whole file or mapping cannot be read.

    ``code`` and ``params`` identify the template in ``ERRORS`` so that the message
    can be translated later.
    """

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(format_message(ERRORS, code, params))


def format_message(
    templates: dict[str, str], code: str, params: dict[str, object]
) -> str:
    """Fill the template ``code`` of ``templates`` with ``params``.

    Raises KeyError when the code is unknown or a placeholder has no value, because
    either is a bug in the reader, not in the data.
    """
    template = templates[code]
    return template.format_map({name: _text(value) for name, value in params.items()})


def reject(line: int, field: str, value: str, code: str, **params: object) -> Rejection:
    """Build the rejection of ``value`` in column ``field`` with the reason ``code``.

    The column name is available to templates as ``{field}``. The parameters are
    kept as text, so that a rejection can be stored as JSON and rendered again.
    """
    texts = {name: _text(param) for name, param in {"field": field, **params}.items()}
    reason = format_message(MESSAGES, code, texts)
    return Rejection(
        line=line, field=field, value=value, reason=reason, code=code, params=texts
    )


def translated(templates: dict[str, str], code: str, params: dict, lang: str) -> str:
    """Return the template ``code`` of ``templates`` in ``lang``, filled in.

    Outside a Flask application context the English template is used.
    """
    template = templates[code]
    if has_app_context():
        with force_locale(_supported(lang)):
            template = gettext(template)
    return template.format_map({name: _text(value) for name, value in params.items()})


def reason_text(code: str, params: dict, reason: str, lang: str) -> str:
    """Return a rejection reason in ``lang``, or ``reason`` when ``code`` is unknown.

    Rejections built before codes existed, or by code outside MESSAGES, have no
    template, so their stored English reason is the only text there is.
    """
    if code not in MESSAGES:
        return reason
    return translated(MESSAGES, code, params, lang)


def rejection_text(rejection: Rejection, lang: str) -> str:
    """Return ``rejection`` as line, column, value and reason in ``lang``."""
    reason = reason_text(rejection.code, rejection.params, rejection.reason, lang)
    params = {
        "line": rejection.line,
        "field": rejection.field,
        "value": rejection.value,
        "reason": reason,
    }
    return translated({"line": REJECTION_LINE}, "line", params, lang)


def error_text(error: ReaderError, lang: str) -> str:
    """Return the message of a ReaderError in ``lang``."""
    return translated(ERRORS, error.code, error.params, lang)


def _supported(lang: str) -> str:
    languages = current_app.config.get("LANGUAGES", ("fr", "en"))
    return lang if lang in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)
