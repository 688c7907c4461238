"""Message templates for rejected rows and unreadable files of the legacy readers.

Every text a reader shows about the data comes from the two template tables below, so
a translation only has to provide the same codes with the same named placeholders.
Placeholder values are data (column names, values, line numbers, formats) or a
reason already built from MESSAGES, never other English words.
"""

from __future__ import annotations

from migration.records import Rejection

# Reasons for rejecting one field of one row. ``Rejection.__str__`` already prints the
# line, the column and the value, so a reason starts with what is wrong.
MESSAGES: dict[str, str] = {
    "value_missing": "value is missing; column {field} is required",
    "amount_unreadable": "amount is unreadable; expected a number such as {example}",
    "amount_too_precise": (
        "amount has more than {places} decimal places; expected a number such as "
        "{example}"
    ),
    "amount_zero": "amount is zero; expected a non-zero amount such as {example}",
    "debit_and_credit": (
        "line has both a debit ({debit}) and a credit ({credit}); expected an amount "
        "in only one of Debit and Credit"
    ),
    "no_debit_or_credit": (
        "Debit and Credit are both zero; expected an amount in one of them"
    ),
    "date_unreadable": (
        "date is unreadable; expected the format {format}, as in {example}"
    ),
    "date_impossible": (
        "date does not exist in the calendar; expected a real date in the format "
        "{format}, as in {example}"
    ),
    "date_out_of_range": (
        "date is outside the accepted range; expected a year from {min_year} to "
        "{max_year}"
    ),
    "date_before": (
        "date is before the {other_field} {other_value}; expected a date on or after it"
    ),
    "field_count": (
        "line has {found} fields; expected {expected} fields separated by {separator}"
    ),
    "duplicate_line": (
        "line repeats line {first_line} (same {key_columns}); expected each entry once"
    ),
    "duplicate_document": (
        "document {document} of customer {customer} already appears on line "
        "{first_line}; expected each document once per customer"
    ),
    "credit_exceeds_debt": (
        "credit larger than the customer's debt: customer {customer} has open credits "
        "of {credits} and open debits of {debits}; expected credits no larger than "
        "debits, or the option credit_exceeds_debt set to allow"
    ),
    "duplicate_due_date": (
        "PieceRef {piece_ref} already has a due date on line {first_line}; expected "
        "one due date per PieceRef"
    ),
    "kind_unknown": "kind is not a known value; expected one of {expected}",
    "negative_invoice": (
        "amount is negative on an invoice; expected a positive amount, or a credit "
        "kind ({credit_values}) for a credit note"
    ),
    "open_amount_too_large": (
        "open amount is larger than the amount {amount}; expected an open amount "
        "from 0 to {amount}"
    ),
    "open_amount_sign": (
        "open amount and amount {amount} have opposite signs; expected the same sign"
    ),
    "settled_but_open": (
        "document is settled on {settled_date} but its open amount is {open_amount}; "
        "expected an open amount of 0, or an empty {settled_column}"
    ),
    "currency_invalid": (
        "currency is not a three-letter code; expected an ISO 4217 code such as EUR"
    ),
}

# Reasons for rejecting a whole file or its mapping, raised as ReaderError.
ERRORS: dict[str, str] = {
    "file_empty": "{path} is empty; expected a header line and data lines",
    "file_type_unsupported": (
        "{path} has the unsupported extension {suffix}; expected .csv, .txt, .tsv or "
        ".xlsx (save .xls files as .xlsx)"
    ),
    "encoding_invalid": (
        "{path} is not valid {encoding} text (near line {line}); set the file's real "
        "encoding, for example utf-8, cp1252 or iso-8859-15"
    ),
    "encoding_unknown": (
        "encoding {encoding} is unknown; expected a Python codec name such as utf-8, "
        "cp1252 or iso-8859-15"
    ),
    "encoding_undetected": (
        "{path} is neither UTF-8 nor {fallback} text; set the file's real encoding"
    ),
    "separator_undetected": (
        "{path}: cannot detect the column separator from the header line; expected "
        "one of {candidates}, or set the separator"
    ),
    "header_columns": (
        "{path} does not have the FEC columns: missing {missing}; expected the 18 "
        "columns {expected}; found {found}"
    ),
    "header_duplicate": "{path}: column {column} appears more than once in the header",
    "due_dates_invalid": (
        'due-dates file {path}, line {line}, value "{value}": {reason}; expected lines '
        "of PieceRef and DueDate such as FA-0001;31/01/2024"
    ),
    "mapping_unreadable": "mapping {path} is not valid YAML: {problem}",
    "mapping_not_a_dict": (
        "mapping must be a YAML mapping with a columns key; found {found}"
    ),
    "mapping_key_unknown": (
        "mapping has the unknown key {key}; expected keys: {allowed}"
    ),
    "mapping_field_unknown": (
        "mapping columns has the unknown field {field}; expected fields: {allowed}"
    ),
    "mapping_field_required": (
        "mapping columns lacks the required field {field}; required fields: {required}"
    ),
    "mapping_due_date_source": (
        "mapping needs a due date source; map columns.due_date or set payment_term"
    ),
    "option_invalid": "option {key} is {value}; expected {expected}",
    "mapping_kind_unknown": (
        "mapping kind_values maps {value} to {kind}; expected one of {allowed}"
    ),
    "column_missing": (
        "column {column} (mapped to {field}) is not in the file; file columns: "
        "{columns}"
    ),
    "column_ambiguous": (
        "column {column} (mapped to {field}) appears more than once in the file; "
        "rename one of them"
    ),
    "sheet_missing": "{path} has no sheet {sheet}; sheets: {sheets}",
    "payment_term_invalid": (
        "payment term {term} is not understood; expected a term such as 30 days, "
        "60 days or 45 days end of month"
    ),
    "date_format_invalid": (
        "date format {format} is not supported; expected a pattern built from "
        "%d, %m and %Y or from JJ, MM and AAAA, such as %d/%m/%Y or JJ/MM/AAAA"
    ),
}


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

    The column name is available to templates as ``{field}``.
    """
    reason = format_message(MESSAGES, code, {"field": field, **params})
    return Rejection(line=line, field=field, value=value, reason=reason)


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)
