"""Evaluate Unleash feature toggles locally, with the results the Unleash SDKs give.

``Engine`` takes a state in the format of the Unleash server's
``/api/client/features`` response and compiles every feature into closures once, so
``Engine.is_enabled`` is a dict lookup followed by a short loop over strategies.

Bucketing matches the Unleash SDKs bit for bit: the bucket of an identifier is the
unsigned MurmurHash3 (x86, 32-bit) of ``"<groupId>:<identifier>"`` modulo the
bucket count, plus one. Rollouts use seed 0 and 100 buckets. Variants use seed
86028157 and one bucket per unit of weight. Where the SDKs disagree on an edge case,
the engine follows yggdrasil 0.21.5, the Rust engine inside UnleashClient 6.9.1,
unless a comment at that spot states the difference.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mmh3

__all__ = [
    "ROLLOUT_BUCKETS",
    "VARIANT_HASH_SEED",
    "Engine",
    "Explanation",
    "normalized_hash",
    "semver_key",
]

Context = Mapping[str, Any]
Predicate = Callable[[Context], bool]
Reader = Callable[[Context], Any]

ROLLOUT_BUCKETS = 100
VARIANT_HASH_SEED = 86028157
"""MurmurHash3 seed of variant buckets in the Unleash SDKs and yggdrasil."""

STANDARD_FIELDS = frozenset(
    {"userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime"}
)
DISABLED_VARIANT_NAME = "disabled"

_hash32 = mmh3.hash
_random = random.random


def normalized_hash(
    group_id: str, identifier: str, modulus: int = ROLLOUT_BUCKETS, seed: int = 0
) -> int:
    """Return the Unleash bucket of ``identifier`` in ``group_id``: 1 to ``modulus``."""
    return _hash32(f"{group_id}:{identifier}", seed, False) % modulus + 1


def _always_true(context: Context) -> bool:
    return True


def _always_false(context: Context) -> bool:
    return False


def _as_text(value: Any) -> str:
    return value if value.__class__ is str else str(value)


def _quote(value: Any) -> str:
    return f'"{value}"'


def _split_list(raw: Any) -> list[str]:
    """Split a comma-separated strategy parameter into trimmed, non-empty items."""
    if raw is None:
        return []
    return [item.strip() for item in str(raw).split(",") if item.strip()]


def _parse_percentage(raw: Any) -> int | None:
    """Parse a rollout percentage such as ``"25"``, or return None when invalid.

    Only non-negative whole numbers are valid, as in yggdrasil, so ``"12.5"`` and
    ``"-1"`` turn the strategy off.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw >= 0 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


# --- Context access ----------------------------------------------------------------


def _make_reader(field_name: str) -> Reader:
    """Build a function that reads ``field_name`` from an Unleash context.

    A standard field such as ``userId`` is read from the top level of the context
    first and from ``properties`` second. A custom field is read from ``properties``
    first and from the top level second. Either returns None when the field is
    missing or null.
    """
    if field_name in STANDARD_FIELDS:

        def read_standard(context: Context) -> Any:
            value = context.get(field_name)
            if value is None:
                properties = context.get("properties")
                if properties:
                    return properties.get(field_name)
            return value

        return read_standard

    def read_custom(context: Context) -> Any:
        properties = context.get("properties")
        if properties:
            value = properties.get(field_name)
            if value is not None:
                return value
        return context.get(field_name)

    return read_custom


_read_user_id = _make_reader("userId")
_read_session_id = _make_reader("sessionId")
_read_remote_address = _make_reader("remoteAddress")


def _read_default_stickiness(context: Context) -> Any:
    """Return the userId, else the sessionId, else None to use a random number.

    An empty string counts as set, as in yggdrasil.
    """
    value = _read_user_id(context)
    if value is None:
        return _read_session_id(context)
    return value


# --- Dates and semantic versions ---------------------------------------------------


def _parse_timestamp(value: Any) -> float | None:
    """Convert an ISO 8601 string or a datetime to POSIX seconds.

    A value without a UTC offset is taken as UTC, whereas yggdrasil rejects it.
    Plain numbers are taken as POSIX seconds already. Returns None for text that
    ``datetime.fromisoformat`` rejects.
    """
    if value.__class__ is float:
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def _format_timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SemverKey = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]
_IDENTIFIER_CHARACTERS = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
)


def _is_numeric_identifier(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_valid_identifier(text: str) -> bool:
    return bool(text) and all(character in _IDENTIFIER_CHARACTERS for character in text)


def semver_key(text: str) -> SemverKey | None:
    """Return a key that orders versions by SemVer 2.0.0 precedence, or None if invalid.

    The version must be strict ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`` with no
    leading ``v``. Build metadata is validated and then ignored, because it does not
    affect precedence. A release sorts after each of its pre-releases, and
    pre-release identifiers compare numerically when both are numeric, otherwise by
    ASCII order, with numeric identifiers before alphanumeric ones.
    """
    version, plus, build = text.partition("+")
    if plus and not all(_is_valid_identifier(part) for part in build.split(".")):
        return None
    core, dash, prerelease = version.partition("-")
    numbers = core.split(".")
    if len(numbers) != 3 or not all(_is_numeric_identifier(n) for n in numbers):
        return None
    if any(len(n) > 1 and n.startswith("0") for n in numbers):
        return None
    major, minor, patch = (int(n) for n in numbers)
    if not dash:
        return (major, minor, patch, 1, ())
    identifiers: list[tuple[int, int | str]] = []
    for part in prerelease.split("."):
        if not _is_valid_identifier(part):
            return None
        if _is_numeric_identifier(part):
            if len(part) > 1 and part.startswith("0"):
                return None
            identifiers.append((0, int(part)))
        else:
            identifiers.append((1, part))
    return (major, minor, patch, 0, tuple(identifiers))


def _parse_number(value: Any) -> float | None:
    """Parse a decimal number, or return None when invalid.

    Surrounding spaces and ``_`` digit separators make the text invalid.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = _as_text(value)
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


# --- Constraints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operation:
    """The compiled operator of one constraint, before ``inverted`` is applied.

    ``check`` receives a value that is present in the context. ``missing_result``
    is the result when the field is missing, and ``problem`` explains why the
    constraint can never pass, for example an unknown operator.
    """

    check: Callable[[Any], bool]
    missing_result: bool
    operand: str
    problem: str | None = None
    members: frozenset[str] | None = None
    """The values of IN and NOT_IN, which get a faster predicate."""
    timestamp: float | None = None
    """The value of DATE_AFTER and DATE_BEFORE in POSIX seconds."""


def _never(value: Any) -> bool:
    return False


def _invalid_operation(operand: str, problem: str) -> _Operation:
    return _Operation(_never, False, operand, problem)


def _compile_list_operation(values: Sequence[Any], is_in: bool) -> _Operation:
    """Compile IN and NOT_IN, which compare exactly even when caseInsensitive is set.

    A missing field is in no list, so NOT_IN passes for it.
    """
    members = frozenset(_as_text(value) for value in values)
    operand = "[" + ", ".join(_quote(value) for value in values) + "]"

    if is_in:

        def check_in(value: Any) -> bool:
            if value.__class__ is not str:
                value = str(value)
            return value in members

        return _Operation(check_in, False, operand, members=members)

    def check_not_in(value: Any) -> bool:
        if value.__class__ is not str:
            value = str(value)
        return value not in members

    return _Operation(check_not_in, True, operand, members=members)


def _compile_string_operation(
    operator: str, values: Sequence[Any], case_insensitive: bool
) -> _Operation:
    texts = tuple(_as_text(value) for value in values)
    operand = "[" + ", ".join(_quote(text) for text in texts) + "]"
    if case_insensitive:
        texts = tuple(text.lower() for text in texts)

    def normalize(value: Any) -> str:
        text = _as_text(value)
        return text.lower() if case_insensitive else text

    if operator == "STR_STARTS_WITH":

        def check_starts_with(value: Any) -> bool:
            return normalize(value).startswith(texts)

        return _Operation(check_starts_with, False, operand)

    if operator == "STR_ENDS_WITH":

        def check_ends_with(value: Any) -> bool:
            return normalize(value).endswith(texts)

        return _Operation(check_ends_with, False, operand)

    def check_contains(value: Any) -> bool:
        text = normalize(value)
        return any(part in text for part in texts)

    return _Operation(check_contains, False, operand)


_NUMBER_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "NUM_EQ": float.__eq__,
    "NUM_GT": float.__gt__,
    "NUM_GTE": float.__ge__,
    "NUM_LT": float.__lt__,
    "NUM_LTE": float.__le__,
}


def _compile_number_operation(operator: str, raw: Any) -> _Operation:
    operand = _quote(raw)
    target = _parse_number(raw)
    if target is None:
        return _invalid_operation(operand, f"the value {operand} is not a number")
    compare = _NUMBER_COMPARISONS[operator]

    def check_number(value: Any) -> bool:
        number = _parse_number(value)
        return number is not None and compare(number, target)

    return _Operation(check_number, False, operand)


def _compile_date_operation(operator: str, raw: Any) -> _Operation:
    operand = _quote(raw)
    target = _parse_timestamp(raw) if raw is not None else None
    if target is None:
        return _invalid_operation(operand, f"the value {operand} is not an ISO date")

    if operator == "DATE_AFTER":

        def check_after(value: Any) -> bool:
            moment = _parse_timestamp(value)
            return moment is not None and moment > target

        return _Operation(check_after, False, operand, timestamp=target)

    def check_before(value: Any) -> bool:
        moment = _parse_timestamp(value)
        return moment is not None and moment < target

    return _Operation(check_before, False, operand, timestamp=target)


def _compile_semver_operation(operator: str, raw: Any) -> _Operation:
    operand = _quote(raw)
    target = semver_key(raw) if isinstance(raw, str) else None
    if target is None:
        problem = f"the value {operand} is not a semantic version"
        return _invalid_operation(operand, problem)

    def check_semver(value: Any) -> bool:
        key = semver_key(_as_text(value))
        if key is None:
            return False
        if operator == "SEMVER_EQ":
            return key == target
        if operator == "SEMVER_GT":
            return key > target
        return key < target

    return _Operation(check_semver, False, operand)


_STRING_OPERATORS = frozenset({"STR_CONTAINS", "STR_STARTS_WITH", "STR_ENDS_WITH"})
_DATE_OPERATORS = frozenset({"DATE_AFTER", "DATE_BEFORE"})
_SEMVER_OPERATORS = frozenset({"SEMVER_EQ", "SEMVER_GT", "SEMVER_LT"})


def _compile_operation(spec: Mapping[str, Any]) -> _Operation:
    operator = spec.get("operator")
    values = spec.get("values") or ()
    if operator in ("IN", "NOT_IN"):
        return _compile_list_operation(values, operator == "IN")
    if operator in _STRING_OPERATORS:
        case_insensitive = bool(spec.get("caseInsensitive"))
        return _compile_string_operation(operator, values, case_insensitive)
    raw = spec.get("value")
    if operator in _NUMBER_COMPARISONS:
        return _compile_number_operation(operator, raw)
    if operator in _DATE_OPERATORS:
        return _compile_date_operation(operator, raw)
    if operator in _SEMVER_OPERATORS:
        return _compile_semver_operation(operator, raw)
    # Operators are case-sensitive, as in yggdrasil: "in" is not "IN".
    return _invalid_operation("", f"the operator {_quote(operator)} is not supported")


_read_current_time = _make_reader("currentTime")


def _read_current_time_text(context: Context) -> Any:
    """Read currentTime for operators other than dates, defaulting to now.

    Unleash SDKs evaluate a missing currentTime as the time of the evaluation, which
    a string operator sees as ISO 8601 text.
    """
    value = _read_current_time(context)
    return _format_timestamp(time.time()) if value is None else value


def _build_membership_predicate(
    field_name: str, members: frozenset[str], is_in: bool, inverted: bool
) -> Predicate:
    """Build an IN or NOT_IN predicate that reads the field itself.

    It reads the context like ``_make_reader`` but without the extra function call,
    because these operators are the most common in rollout plans.
    """
    standard = field_name in STANDARD_FIELDS
    result_if_member = is_in != inverted
    result_if_missing = (not is_in) != inverted

    def matches_membership(context: Context) -> bool:
        if standard:
            value = context.get(field_name)
            if value is None:
                properties = context.get("properties")
                if properties:
                    value = properties.get(field_name)
        else:
            properties = context.get("properties")
            value = properties.get(field_name) if properties else None
            if value is None:
                value = context.get(field_name)
        if value is None:
            return result_if_missing
        if value.__class__ is not str:
            value = str(value)
        return result_if_member if value in members else not result_if_member

    return matches_membership


def _build_current_time_predicate(
    timestamp: float, after: bool, inverted: bool
) -> Predicate:
    """Build a DATE_AFTER or DATE_BEFORE predicate on currentTime, read inline.

    A missing currentTime means the time of the evaluation, as in Unleash SDKs.
    """

    def matches_current_time(context: Context) -> bool:
        value = context.get("currentTime")
        if value is None:
            properties = context.get("properties")
            if properties:
                value = properties.get("currentTime")
        moment = time.time() if value is None else _parse_timestamp(value)
        if moment is None:
            return inverted
        passed = moment > timestamp if after else moment < timestamp
        return passed != inverted

    return matches_current_time


def _build_constraint_predicate(
    context_name: str, operator: str, operation: _Operation, inverted: bool
) -> Predicate:
    if operation.problem:
        # A constraint that cannot be evaluated fails even when inverted, so a
        # broken definition never turns a feature on.
        return _always_false
    if operation.members is not None:
        is_in = operator == "IN"
        return _build_membership_predicate(
            context_name, operation.members, is_in, inverted
        )
    if operation.timestamp is not None and context_name == "currentTime":
        after = operator == "DATE_AFTER"
        return _build_current_time_predicate(operation.timestamp, after, inverted)
    if context_name == "currentTime":
        read = _read_current_time_text
    else:
        read = _make_reader(context_name)
    check = operation.check
    missing_result = operation.missing_result
    if inverted:

        def matches_inverted(context: Context) -> bool:
            value = read(context)
            if value is None:
                return not missing_result
            return not check(value)

        return matches_inverted

    def matches(context: Context) -> bool:
        value = read(context)
        if value is None:
            return missing_result
        return check(value)

    return matches


@dataclass(frozen=True, slots=True)
class _Constraint:
    label: str
    context_name: str
    operator: str
    inverted: bool
    case_insensitive: bool
    operation: _Operation
    matches: Predicate

    def describe(self) -> str:
        flags = []
        if self.inverted:
            flags.append("inverted")
        if self.case_insensitive and self.operator in _STRING_OPERATORS:
            flags.append("case-insensitive")
        suffix = f" ({', '.join(flags)})" if flags else ""
        operand = f" {self.operation.operand}" if self.operation.operand else ""
        return f"{self.label} {self.context_name} {self.operator}{operand}{suffix}"

    def explain(self, context: Context) -> tuple[bool, str]:
        """Evaluate the constraint and describe the context value it saw."""
        passed = self.matches(context)
        verdict = "passed" if passed else "failed"
        if self.operation.problem:
            return passed, f"{self.describe()} {verdict}: {self.operation.problem}."
        value = _make_reader(self.context_name)(context)
        if value is not None:
            seen = f"{self.context_name} is {_quote(value)}"
        elif self.context_name == "currentTime":
            now = _format_timestamp(time.time())
            seen = f"currentTime is not set, so the current time {now} is used"
        else:
            seen = f"{self.context_name} is not set"
        return passed, f"{self.describe()} {verdict}: {seen}."


def _compile_constraint(spec: Mapping[str, Any], label: str) -> _Constraint:
    context_name = str(spec.get("contextName", ""))
    operator = str(spec.get("operator", ""))
    inverted = bool(spec.get("inverted"))
    operation = _compile_operation(spec)
    return _Constraint(
        label=label,
        context_name=context_name,
        operator=operator,
        inverted=inverted,
        case_insensitive=bool(spec.get("caseInsensitive")),
        operation=operation,
        matches=_build_constraint_predicate(
            context_name, operator, operation, inverted
        ),
    )


# --- Strategy activations ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Activation:
    """The strategy-specific part of a strategy, checked after its constraints.

    ``explain`` must reach the same decision as ``test``, except where the strategy
    draws a random number.
    """

    test: Predicate
    explain: Callable[[Context], tuple[bool, str]]


def _activation_of_constant(result: bool, reason: str) -> _Activation:
    return _Activation(
        _always_true if result else _always_false, lambda context: (result, reason)
    )


def _describe_bucket(bucket: int, percentage: int, subject: str) -> tuple[bool, str]:
    if bucket <= percentage:
        return True, f"bucket {bucket} of {subject} is within the {percentage}% rollout"
    return False, f"bucket {bucket} of {subject} is above the {percentage}% rollout"


def _hashed_rollout(
    read: Reader, field_label: str, percentage: int, group_id: str
) -> _Activation:
    """Build a rollout that buckets the value of one context field."""
    prefix = f"{group_id}:"

    def test(context: Context) -> bool:
        value = read(context)
        if value is None:
            return False
        return _hash32(prefix + _as_text(value), 0, False) % 100 + 1 <= percentage

    def explain(context: Context) -> tuple[bool, str]:
        value = read(context)
        if value is None:
            return False, f"{field_label} is not set, so there is no bucket"
        bucket = normalized_hash(group_id, _as_text(value))
        subject = f"{field_label} {_quote(value)} in group {_quote(group_id)}"
        return _describe_bucket(bucket, percentage, subject)

    return _Activation(test, explain)


def _random_rollout(percentage: int) -> _Activation:
    def test(context: Context) -> bool:
        # True with probability percentage / 100, like a random bucket from 1 to 100
        # being at most the percentage.
        return _random() * 100 < percentage

    def explain(context: Context) -> tuple[bool, str]:
        bucket = random.randint(1, ROLLOUT_BUCKETS)
        return _describe_bucket(bucket, percentage, "a random number")

    return _Activation(test, explain)


def _default_stickiness_rollout(percentage: int, group_id: str) -> _Activation:
    """Bucket the userId, else the sessionId, else a random number."""
    prefix = f"{group_id}:"

    def test(context: Context) -> bool:
        value = _read_default_stickiness(context)
        if value is None:
            return _random() * 100 < percentage
        return _hash32(prefix + _as_text(value), 0, False) % 100 + 1 <= percentage

    def explain(context: Context) -> tuple[bool, str]:
        user_id = _read_user_id(context)
        if user_id is not None:
            label, value = "userId", user_id
        else:
            label, value = "sessionId", _read_session_id(context)
        if value is None:
            bucket = random.randint(1, ROLLOUT_BUCKETS)
            subject = "a random number (no userId or sessionId is set)"
            return _describe_bucket(bucket, percentage, subject)
        bucket = normalized_hash(group_id, _as_text(value))
        subject = f"{label} {_quote(value)} in group {_quote(group_id)}"
        return _describe_bucket(bucket, percentage, subject)

    return _Activation(test, explain)


def _compile_flexible_rollout(
    parameters: Mapping[str, Any], feature_name: str
) -> _Activation:
    raw = parameters.get("rollout")
    percentage = _parse_percentage(raw)
    if percentage is None:
        return _activation_of_constant(False, f"rollout {_quote(raw)} is not a number")
    if percentage <= 0:
        return _activation_of_constant(False, "rollout is 0%")
    group_id = str(parameters.get("groupId") or feature_name)
    stickiness = str(parameters.get("stickiness") or "default")
    if stickiness == "default":
        return _default_stickiness_rollout(percentage, group_id)
    if stickiness == "random":
        return _random_rollout(percentage)
    return _hashed_rollout(_make_reader(stickiness), stickiness, percentage, group_id)


def _compile_gradual_rollout(
    parameters: Mapping[str, Any], field_name: str | None
) -> _Activation:
    """Compile the legacy gradualRollout* strategies.

    A ``field_name`` of None compiles gradualRolloutRandom.
    """
    raw = parameters.get("percentage")
    percentage = _parse_percentage(raw)
    if percentage is None:
        reason = f"percentage {_quote(raw)} is not a number"
        return _activation_of_constant(False, reason)
    if percentage <= 0:
        return _activation_of_constant(False, "percentage is 0%")
    if field_name is None:
        return _random_rollout(percentage)
    group_id = parameters.get("groupId")
    if group_id is None:
        # yggdrasil turns these strategies off without a groupId, unlike
        # flexibleRollout, which falls back to the feature name.
        return _activation_of_constant(False, "the groupId parameter is missing")
    read = _make_reader(field_name)
    return _hashed_rollout(read, field_name, percentage, str(group_id))


def _compile_user_with_id(parameters: Mapping[str, Any]) -> _Activation:
    user_ids = frozenset(_split_list(parameters.get("userIds")))

    def test(context: Context) -> bool:
        value = _read_user_id(context)
        return value is not None and _as_text(value) in user_ids

    def explain(context: Context) -> tuple[bool, str]:
        value = _read_user_id(context)
        if value is None:
            return False, "userId is not set"
        if _as_text(value) in user_ids:
            return True, f"userId {_quote(value)} is in the list"
        return False, f"userId {_quote(value)} is not in the list"

    return _Activation(test, explain)


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_networks(entries: list[str]) -> tuple[IpNetwork, ...]:
    """Parse addresses and CIDR ranges, skipping entries that are neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _compile_remote_address(parameters: Mapping[str, Any]) -> _Activation:
    """Match remoteAddress against the ``IPs`` parameter (addresses and CIDR ranges).

    An IPv4 address does not match an IPv6 range, including its IPv4-mapped form.
    """
    networks = _parse_networks(_split_list(parameters.get("IPs")))

    def find_network(context: Context) -> IpNetwork | None:
        value = _read_remote_address(context)
        if value is None:
            return None
        try:
            address = ipaddress.ip_address(_as_text(value).strip())
        except ValueError:
            return None
        return next((net for net in networks if address in net), None)

    def test(context: Context) -> bool:
        return find_network(context) is not None

    def explain(context: Context) -> tuple[bool, str]:
        value = _read_remote_address(context)
        if value is None:
            return False, "remoteAddress is not set"
        network = find_network(context)
        if network is None:
            return False, f"remoteAddress {_quote(value)} is in none of the IPs"
        return True, f"remoteAddress {_quote(value)} is in {network}"

    return _Activation(test, explain)


_read_hostname = _make_reader("hostname")


def _compile_application_hostname(
    parameters: Mapping[str, Any], machine_hostname: str
) -> _Activation:
    """Match the ``hostname`` context property, else this machine's hostname.

    The ``hostNames`` list compares case-insensitively.
    """
    hostnames = frozenset(
        name.lower() for name in _split_list(parameters.get("hostNames"))
    )
    machine = machine_hostname.lower()

    def resolve(context: Context) -> str:
        value = _read_hostname(context)
        return machine if value is None else _as_text(value).lower()

    def test(context: Context) -> bool:
        return resolve(context) in hostnames

    def explain(context: Context) -> tuple[bool, str]:
        hostname = resolve(context)
        if hostname in hostnames:
            return True, f"hostname {_quote(hostname)} is in hostNames"
        return False, f"hostname {_quote(hostname)} is not in hostNames"

    return _Activation(test, explain)


def _compile_activation(
    name: str,
    parameters: Mapping[str, Any],
    feature_name: str,
    machine_hostname: str,
) -> _Activation:
    if name == "default":
        return _activation_of_constant(True, "the default strategy is on for everyone")
    if name == "flexibleRollout":
        return _compile_flexible_rollout(parameters, feature_name)
    if name == "userWithId":
        return _compile_user_with_id(parameters)
    if name == "gradualRolloutUserId":
        return _compile_gradual_rollout(parameters, "userId")
    if name == "gradualRolloutSessionId":
        return _compile_gradual_rollout(parameters, "sessionId")
    if name == "gradualRolloutRandom":
        return _compile_gradual_rollout(parameters, None)
    if name == "remoteAddress":
        return _compile_remote_address(parameters)
    if name == "applicationHostname":
        return _compile_application_hostname(parameters, machine_hostname)
    return _activation_of_constant(
        False, f"the strategy {_quote(name)} is not supported"
    )


# --- Variants ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Variant:
    name: str
    weight: int
    payload: Mapping[str, Any] | None
    overrides: tuple[tuple[Reader, frozenset[str]], ...]

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "enabled": True,
            "feature_enabled": True,
        }
        if self.payload is not None:
            result["payload"] = dict(self.payload)
        return result


@dataclass(frozen=True, slots=True)
class _VariantSet:
    """Weighted variants of a feature or strategy, bucketed by ``group_id``."""

    group_id: str
    variants: tuple[_Variant, ...]
    total_weight: int
    stickiness: str
    read_stickiness: Reader
    """Reader of the value to hash. When it returns None, a random bucket is used."""

    def select(self, context: Context) -> tuple[_Variant | None, str]:
        """Pick a variant and describe why it was picked.

        The variant is None when all weights are zero.
        """
        for variant in self.variants:
            for read, values in variant.overrides:
                value = read(context)
                if value is not None and _as_text(value) in values:
                    return variant, f"an override on {_quote(value)} selects it"
        if self.total_weight <= 0:
            return None, "all variant weights are 0"
        value = self.read_stickiness(context)
        if value is None:
            bucket = random.randint(1, self.total_weight)
            subject = "a random number"
        else:
            bucket = normalized_hash(
                self.group_id, _as_text(value), self.total_weight, VARIANT_HASH_SEED
            )
            subject = f"{_quote(value)} in group {_quote(self.group_id)}"
        cumulative = 0
        for variant in self.variants:
            cumulative += variant.weight
            if cumulative >= bucket:
                break
        reason = f"bucket {bucket} of {self.total_weight} for {subject}"
        return variant, reason


def _no_value(context: Context) -> None:
    return None


def _variant_stickiness_reader(stickiness: str) -> Reader:
    """Return the reader of the value that variant buckets hash.

    A missing value, and the ``random`` stickiness, select a random bucket, as in
    yggdrasil. Unlike UnleashClient 5.x, the ``default`` stickiness does not fall
    back to remoteAddress.
    """
    if stickiness == "random":
        return _no_value
    if stickiness == "default":
        return _read_default_stickiness
    return _make_reader(stickiness)


def _first_stickiness(specs: Sequence[Mapping[str, Any]]) -> str:
    """Return the stickiness of feature variants, which the first variant sets."""
    return str(specs[0].get("stickiness") or "default")


def _compile_variants(
    specs: Sequence[Mapping[str, Any]],
    group_id: str,
    stickiness: str,
    *,
    with_overrides: bool,
) -> _VariantSet:
    variants = []
    for spec in specs:
        override_specs = spec.get("overrides") if with_overrides else None
        overrides = tuple(
            (
                _make_reader(str(override.get("contextName", ""))),
                frozenset(_as_text(value) for value in override.get("values") or ()),
            )
            for override in override_specs or ()
        )
        variants.append(
            _Variant(
                name=str(spec.get("name", "")),
                weight=int(spec.get("weight") or 0),
                payload=spec.get("payload"),
                overrides=overrides,
            )
        )
    return _VariantSet(
        group_id=group_id,
        variants=tuple(variants),
        total_weight=sum(variant.weight for variant in variants),
        stickiness=stickiness,
        read_stickiness=_variant_stickiness_reader(stickiness),
    )


def _disabled_variant(feature_enabled: bool) -> dict[str, Any]:
    return {
        "name": DISABLED_VARIANT_NAME,
        "enabled": False,
        "feature_enabled": feature_enabled,
    }


# --- Strategies --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Strategy:
    position: int
    name: str
    title: str
    constraints: tuple[_Constraint, ...]
    missing_segments: tuple[str, ...]
    activation: _Activation
    checks: tuple[Predicate, ...]
    """Constraint predicates, segment constraints included, all of which must pass."""
    matches: Predicate
    variants: _VariantSet | None

    def label(self) -> str:
        title = f" {_quote(self.title)}" if self.title else ""
        return f"Strategy {self.position}{title} ({self.name})"

    def explain(self, context: Context) -> tuple[bool, list[str]]:
        label = self.label()
        if self.missing_segments:
            ids = ", ".join(self.missing_segments)
            if len(self.missing_segments) == 1:
                missing = f"segment {ids} is not in the state"
            else:
                missing = f"segments {ids} are not in the state"
            return False, [f"{label} is off: {missing}."]
        reasons = []
        constraints_pass = True
        for constraint in self.constraints:
            passed, reason = constraint.explain(context)
            constraints_pass = constraints_pass and passed
            reasons.append(f"{label}: {reason}")
        if not constraints_pass:
            reasons.append(f"{label} did not match because a constraint failed.")
            return False, reasons
        matched, reason = self.activation.explain(context)
        verdict = "matched" if matched else "did not match"
        reasons.append(f"{label} {verdict}: {reason}.")
        return matched, reasons


def _build_strategy_predicate(
    checks: tuple[Predicate, ...], activation: Predicate
) -> Predicate:
    if not checks:
        return activation
    if len(checks) == 1:
        only = checks[0]

        def matches_one(context: Context) -> bool:
            return only(context) and activation(context)

        return matches_one

    def matches_all(context: Context) -> bool:
        for check in checks:
            if not check(context):
                return False
        return activation(context)

    return matches_all


def _compile_strategy(
    spec: Mapping[str, Any],
    position: int,
    feature_name: str,
    segments: Mapping[str, Sequence[Mapping[str, Any]]],
    machine_hostname: str,
) -> _Strategy:
    name = str(spec.get("name", ""))
    parameters = spec.get("parameters") or {}

    constraints = [
        _compile_constraint(constraint, "constraint")
        for constraint in spec.get("constraints") or ()
    ]
    missing_segments = []
    for segment_id in spec.get("segments") or ():
        key = str(segment_id)
        if key not in segments:
            missing_segments.append(key)
            continue
        label = f"segment {key} constraint"
        constraints.extend(_compile_constraint(c, label) for c in segments[key])
    if missing_segments:
        # Unleash turns a strategy off when it refers to a segment it does not have.
        checks: tuple[Predicate, ...] = (_always_false,)
    else:
        checks = tuple(constraint.matches for constraint in constraints)

    activation = _compile_activation(name, parameters, feature_name, machine_hostname)

    variant_specs = spec.get("variants") or ()
    # Strategy variants are bucketed like the strategy itself: by its groupId and
    # its stickiness parameter, not by the stickiness field of each variant. Unleash
    # has no overrides for strategy variants, so any in the state are ignored.
    group_id = str(parameters.get("groupId") or feature_name)
    stickiness = str(parameters.get("stickiness") or "default")

    return _Strategy(
        position=position,
        name=name,
        title=str(spec.get("title") or ""),
        constraints=tuple(constraints),
        missing_segments=tuple(missing_segments),
        activation=activation,
        checks=checks,
        matches=_build_strategy_predicate(checks, activation.test),
        variants=(
            _compile_variants(variant_specs, group_id, stickiness, with_overrides=False)
            if variant_specs
            else None
        ),
    )


# --- Features and dependencies -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dependency:
    parent: str
    parent_enabled: bool
    variants: frozenset[str]
    variant_list: tuple[str, ...]


@dataclass(slots=True)
class _Feature:
    name: str
    enabled: bool
    strategies: tuple[_Strategy, ...]
    disabled_positions: tuple[int, ...]
    dependencies: tuple[_Dependency, ...]
    variants: _VariantSet | None
    own_check: Predicate

    def matching_strategy(self, context: Context) -> tuple[bool, _Strategy | None]:
        """Evaluate strategies only, returning the first one that matches."""
        if not self.enabled:
            return False, None
        if not self.strategies and not self.disabled_positions:
            return True, None
        for strategy in self.strategies:
            if strategy.matches(context):
                return True, strategy
        return False, None


def _build_own_check(
    enabled: bool, strategies: tuple[_Strategy, ...], listed: int
) -> Predicate:
    """Build the check of a feature's switch and strategies, without dependencies."""
    if not enabled:
        return _always_false
    if listed == 0:
        return _always_true
    if not strategies:
        return _always_false
    if len(strategies) == 1:
        return strategies[0].matches
    # Looping over (constraint checks, activation) pairs here instead of calling
    # each strategy's predicate saves one function call per strategy.
    plans = tuple(
        (strategy.checks, strategy.activation.test) for strategy in strategies
    )

    def any_strategy(context: Context) -> bool:
        for checks, activation in plans:
            for check in checks:
                if not check(context):
                    break
            else:
                if activation(context):
                    return True
        return False

    return any_strategy


def _compile_dependency(spec: Mapping[str, Any]) -> _Dependency:
    variant_list = tuple(str(name) for name in spec.get("variants") or ())
    enabled = spec.get("enabled")
    return _Dependency(
        parent=str(spec.get("feature", "")),
        parent_enabled=True if enabled is None else bool(enabled),
        variants=frozenset(variant_list),
        variant_list=variant_list,
    )


def _compile_feature(
    spec: Mapping[str, Any],
    index: int,
    segments: Mapping[str, Sequence[Mapping[str, Any]]],
    machine_hostname: str,
) -> _Feature:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"Invalid Unleash state: the feature at index {index} has no name. "
            "Every feature needs a non-empty string name."
        )
    enabled = bool(spec.get("enabled"))
    strategy_specs = spec.get("strategies") or ()
    strategies = []
    disabled_positions = []
    for position, strategy_spec in enumerate(strategy_specs, start=1):
        if strategy_spec.get("disabled"):
            disabled_positions.append(position)
            continue
        strategies.append(
            _compile_strategy(strategy_spec, position, name, segments, machine_hostname)
        )
    variant_specs = spec.get("variants") or ()
    return _Feature(
        name=name,
        enabled=enabled,
        strategies=tuple(strategies),
        disabled_positions=tuple(disabled_positions),
        dependencies=tuple(
            _compile_dependency(dependency)
            for dependency in spec.get("dependencies") or ()
        ),
        variants=(
            _compile_variants(
                variant_specs,
                name,
                _first_stickiness(variant_specs),
                with_overrides=True,
            )
            if variant_specs
            else None
        ),
        own_check=_build_own_check(enabled, tuple(strategies), len(strategy_specs)),
    )


# --- Engine ------------------------------------------------------------------------


@dataclass(slots=True)
class Explanation:
    """Result of ``Engine.explain``: the decision and the English reasons for it."""

    feature: str
    found: bool
    enabled: bool
    reasons: list[str]


class Engine:
    """Evaluate the feature toggles of one Unleash client-features state.

    The engine never changes after construction, so one instance can serve many
    threads. Build a new one when the state changes.
    """

    def __init__(
        self, state: Mapping[str, Any], *, hostname: str | None = None
    ) -> None:
        """Compile ``state``, a dict in the Unleash client-features format.

        ``hostname`` replaces the machine's hostname for the applicationHostname
        strategy. Raises ValueError when a feature has no name.
        """
        self.version = state.get("version")
        self._hostname = socket.gethostname() if hostname is None else hostname
        segments = {
            str(segment.get("id")): tuple(segment.get("constraints") or ())
            for segment in state.get("segments") or ()
        }
        features = (
            _compile_feature(spec, index, segments, self._hostname)
            for index, spec in enumerate(state.get("features") or ())
        )
        self._features: dict[str, _Feature] = {f.name: f for f in features}
        self._gates: dict[str, Predicate] = {
            name: self._dependency_gate(feature)
            for name, feature in self._features.items()
        }
        self._checks: dict[str, Predicate] = {
            name: self._build_check(feature) for name, feature in self._features.items()
        }

    @property
    def feature_names(self) -> list[str]:
        return list(self._features)

    def is_enabled(
        self, name: str, context: Context, *, fallback: bool = False
    ) -> bool:
        """Return whether feature ``name`` is on for ``context``.

        Returns ``fallback`` when the state has no feature of that name.
        """
        check = self._checks.get(name)
        if check is None:
            return fallback
        return check(context)

    def get_variant(self, name: str, context: Context) -> dict[str, Any]:
        """Select the variant of feature ``name`` for ``context``.

        Returns a dict with ``name``, ``enabled`` and ``feature_enabled``, plus
        ``payload`` when the variant has one, like UnleashClient's ``get_variant``.
        A feature that is off, unknown, or has no variants gives the variant named
        ``disabled``.
        """
        feature = self._features.get(name)
        if feature is None:
            return _disabled_variant(False)
        variant, _ = self._select_variant(feature, context)
        return variant

    def explain(
        self, name: str, context: Context, *, fallback: bool = False
    ) -> Explanation:
        """Evaluate feature ``name`` like ``is_enabled`` and record the reasons.

        The decision matches ``is_enabled`` for the same context, except where a
        strategy draws a random number, because each call draws its own.
        """
        feature = self._features.get(name)
        if feature is None:
            reason = (
                f"Feature {_quote(name)} is not in the state, so the fallback value "
                f"{fallback} is returned."
            )
            return Explanation(name, False, fallback, [reason])
        reasons: list[str] = []
        enabled = self._explain_feature(feature, context, reasons)
        return Explanation(name, True, enabled, reasons)

    # --- internals ------------------------------------------------------------------

    def _build_check(self, feature: _Feature) -> Predicate:
        own_check = feature.own_check
        gate = self._gates[feature.name]
        if gate is _always_true or own_check is _always_false:
            return own_check
        if gate is _always_false:
            return _always_false

        def check_with_dependencies(context: Context) -> bool:
            return gate(context) and own_check(context)

        return check_with_dependencies

    def _dependency_gate(self, feature: _Feature) -> Predicate:
        """Build the check that all dependencies of ``feature`` are met."""
        if not feature.dependencies:
            return _always_true
        if any(self._dependency_problem(d) for d in feature.dependencies):
            return _always_false
        checks = tuple(self._build_dependency_check(d) for d in feature.dependencies)
        if len(checks) == 1:
            return checks[0]

        def all_dependencies_met(context: Context) -> bool:
            for dependency_met in checks:
                if not dependency_met(context):
                    return False
            return True

        return all_dependencies_met

    def _dependency_problem(self, dependency: _Dependency) -> str | None:
        """Return why a dependency can never be met, or None."""
        parent = self._features.get(dependency.parent)
        if parent is None:
            return f"{_quote(dependency.parent)} is not in the state"
        if parent.dependencies:
            # Unleash allows one level of dependencies only.
            return f"{_quote(dependency.parent)} has dependencies of its own"
        return None

    def _build_dependency_check(self, dependency: _Dependency) -> Predicate:
        parent = self._features[dependency.parent]
        parent_check = parent.own_check
        if not dependency.parent_enabled:

            def parent_disabled(context: Context) -> bool:
                return not parent_check(context)

            return parent_disabled
        if not dependency.variants:
            return parent_check
        variants = dependency.variants

        # NOTE: yggdrasil 0.21.5 treats a parent without variants as meeting a variant
        # dependency. Here the parent's variant must be one of the listed names, so
        # such a parent, whose variant is "disabled", does not meet it.
        def parent_variant_in_list(context: Context) -> bool:
            variant, _ = self._select_variant(parent, context)
            return variant["feature_enabled"] and variant["name"] in variants

        return parent_variant_in_list

    def _select_variant(
        self, feature: _Feature, context: Context
    ) -> tuple[dict[str, Any], str]:
        """Select the variant of ``feature`` for ``context`` and describe why."""
        if not self._gates[feature.name](context):
            return _disabled_variant(False), "its dependencies are not met"
        enabled, strategy = feature.matching_strategy(context)
        if not enabled:
            return _disabled_variant(False), "the feature is off"
        if strategy is not None and strategy.variants is not None:
            variant_set, source = strategy.variants, strategy.label()
        elif feature.variants is not None:
            variant_set, source = feature.variants, "the feature variants"
        else:
            return _disabled_variant(True), "the feature has no variants"
        variant, reason = variant_set.select(context)
        if variant is None:
            return _disabled_variant(True), f"{reason} in {source}"
        return variant.as_result(), f"{reason} in {source}"

    def _explain_feature(
        self, feature: _Feature, context: Context, reasons: list[str]
    ) -> bool:
        name = _quote(feature.name)
        if not feature.enabled:
            reasons.append(f"Feature {name} is disabled (enabled: false).")
            return False
        for dependency in feature.dependencies:
            met, reason = self._explain_dependency(dependency, context)
            reasons.append(reason)
            if not met:
                reasons.append(
                    f"Feature {name} is off because a dependency is not met."
                )
                return False
        for position in feature.disabled_positions:
            reasons.append(f"Strategy {position} is skipped because it is disabled.")
        if not feature.strategies and not feature.disabled_positions:
            reasons.append(
                f"Feature {name} is enabled and has no strategies, so it is on."
            )
            return True
        for strategy in feature.strategies:
            matched, strategy_reasons = strategy.explain(context)
            reasons.extend(strategy_reasons)
            if matched:
                return True
        reasons.append(f"No strategy of feature {name} matched, so it is off.")
        return False

    def _explain_dependency(
        self, dependency: _Dependency, context: Context
    ) -> tuple[bool, str]:
        parent = _quote(dependency.parent)
        prefix = f"Dependency on {parent}"
        problem = self._dependency_problem(dependency)
        if problem:
            return False, f"{prefix} is not met: {problem}."
        parent_feature = self._features[dependency.parent]
        parent_on = parent_feature.own_check(context)
        if not dependency.parent_enabled:
            if parent_on:
                return False, f"{prefix} is not met: {parent} is on but must be off."
            return True, f"{prefix} is met: {parent} is off, as required."
        if not parent_on:
            return False, f"{prefix} is not met: {parent} is off."
        if not dependency.variants:
            return True, f"{prefix} is met: {parent} is on."
        variant, reason = self._select_variant(parent_feature, context)
        allowed = ", ".join(_quote(name) for name in dependency.variant_list)
        chosen = f"{parent} variant {_quote(variant['name'])} ({reason})"
        if variant["name"] in dependency.variants:
            return True, f"{prefix} is met: {chosen} is one of {allowed}."
        return False, f"{prefix} is not met: {chosen} is not one of {allowed}."
