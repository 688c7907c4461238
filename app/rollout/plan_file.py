"""Read and validate the rollout plan that a project lead writes in feature_flags.yaml.

The plan is validated strictly: every problem becomes a ``PlanError`` with the line
it was found on and what to write instead, and a plan with any error is rejected as a
whole. A valid plan may carry ``PlanWarning``s: things that are legal but probably
not meant, listed by ``app.rollout.plan_warnings``. The reader walks the nodes that
PyYAML composes, not the constructed Python values, because only the nodes keep line
numbers and duplicate keys.

A plan looks like this::

    strategy: phased            # or big_bang, with a cutover date instead of waves
    waves:
      - name: pilot
        start: 2013-06-01
        teams: [country-406]    # or the word all
        percent: 50             # optional share of those teams' users, 1 to 100
    flags:                      # only the flags of app.rollout.catalogue
      worklist:
        description: Prioritised worklist.   # optional, default from the catalogue
        requires: [other_flag]  # optional prerequisites
        training: worklist-101  # optional module the user must have passed
        waves: [pilot]          # optional, phased plans only; default every wave
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from app.rollout.catalogue import (
    FLAG_CATALOGUE,
    KNOWN_FLAGS,
    closest_flag,
    unknown_flag_message,
)
from app.rollout.messages import Message, _
from app.rollout.plan import (
    ALL_TEAMS,
    BIG_BANG,
    NAME_PATTERN,
    PHASED,
    STRATEGIES,
    FlagSpec,
    Plan,
    Wave,
)
from app.rollout.plan_warnings import PlanLines, plan_warnings
from app.rollout.yaml_syntax import (
    explain_marked_error,
    explain_reader_error,
    find_tab_indentation,
)

PLAN_KEYS = ("strategy", "cutover", "waves", "flags")
WAVE_KEYS = ("name", "start", "teams", "percent")
FLAG_KEYS = ("description", "requires", "training", "waves")
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
MIN_YEAR = 2000
MAX_YEAR = 2100
MAX_LISTED_CHOICES = 10
PLAN_EXAMPLE = "    strategy: big_bang\n    cutover: 2013-09-02\n    flags: {}"


@dataclass(frozen=True)
class PlanError:
    """A problem in a plan file: its line (1-based, None for the whole file) and why."""

    line: int | None
    message: Message

    def __str__(self) -> str:
        if self.line is None:
            return str(self.message)
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class PlanWarning:
    """Something legal in a plan file that is probably a mistake, and on which line."""

    line: int | None
    message: Message

    def __str__(self) -> str:
        if self.line is None:
            return str(self.message)
        return f"line {self.line}: {self.message}"


class PlanInvalid(ValueError):
    """The plan has errors, listed in ``errors`` in line order."""

    def __init__(self, errors: Iterable[PlanError]) -> None:
        self.errors = sorted(errors, key=lambda error: error.line or 0)
        super().__init__("; ".join(str(error) for error in self.errors))


def read_plan(path: str | Path, known_teams: Collection[str] | None = None) -> Plan:
    """Read and validate the plan file at ``path``; raise PlanInvalid on any error.

    ``known_teams`` are the team codes a wave may name. None skips that check.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = Message(
            _(
                "The plan file %(path)s does not exist. Create it, or set "
                "CADENCE_FEATURE_FLAGS to the path of the plan."
            ),
            {"path": str(path)},
        )
        raise PlanInvalid([PlanError(None, message)]) from None
    except UnicodeDecodeError:
        message = Message(
            _("The plan file %(path)s is not UTF-8 text. Save it as UTF-8."),
            {"path": str(path)},
        )
        raise PlanInvalid([PlanError(None, message)]) from None
    return parse_plan(text, known_teams)


def parse_plan(text: str, known_teams: Collection[str] | None = None) -> Plan:
    """Validate the YAML ``text`` of a plan; raise PlanInvalid listing every error.

    The plan returned carries the warnings of ``app.rollout.plan_warnings``.
    """
    tab_lines = find_tab_indentation(text)
    if tab_lines:
        raise PlanInvalid(PlanError(line, message) for line, message in tab_lines)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise PlanInvalid([PlanError(*explain_marked_error(error))]) from None
    except ReaderError as error:
        raise PlanInvalid([PlanError(*explain_reader_error(error, text))]) from None
    reader = _PlanReader(known_teams)
    plan = reader.read(root)
    if reader.errors or plan is None:
        raise PlanInvalid(reader.errors)
    found = plan_warnings(plan, reader.lines)
    warnings = [PlanWarning(line, message) for line, message in found]
    warnings.sort(key=lambda warning: warning.line or 0)
    return dataclasses.replace(plan, warnings=tuple(warnings))


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: Node) -> bool:
    """Return whether ``node`` has no value at all, as after ``key:`` alone."""
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _is_empty(node: Node) -> bool:
    """Return whether ``node`` is an empty list or has no value at all."""
    if isinstance(node, SequenceNode):
        return not node.value
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _closest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _listing(choices: Iterable[str]) -> str:
    """Join up to MAX_LISTED_CHOICES choices with commas, or return "none"."""
    items = list(choices)
    if not items:
        return "none"
    listing = ", ".join(items[:MAX_LISTED_CHOICES])
    if len(items) > MAX_LISTED_CHOICES:
        listing += ", …"
    return listing


class _PlanReader:
    """Walk the composed YAML nodes of a plan and collect every error on the way."""

    def __init__(self, known_teams: Collection[str] | None) -> None:
        self.known_teams = sorted(known_teams) if known_teams is not None else None
        self.errors: list[PlanError] = []
        # Keys suggested for misspelled keys, by mapping node, so that a misspelled
        # key is not reported a second time as missing.
        self.suggested: dict[int, set[str]] = {}
        # Flags suggested for misspelled flag names, so that a prerequisite naming
        # the flag is not reported a second time as missing from the plan.
        self.suggested_flags: set[str] = set()
        self.requires_lines: dict[tuple[str, str], int] = {}
        self.training_lines: dict[str, int] = {}
        self.wave_lines: dict[str, int] = {}

    @property
    def lines(self) -> PlanLines:
        """Return the lines of the prerequisites, training keys and waves."""
        return PlanLines(
            requires=self.requires_lines,
            training=self.training_lines,
            waves=self.wave_lines,
        )

    def error(self, node: Node | int | None, template: str, **values: Any) -> None:
        line = _line(node) if isinstance(node, Node) else node
        self.errors.append(PlanError(line, Message(template, values)))

    # --- generic node checks ---------------------------------------------------------

    def mapping(
        self, node: MappingNode, valid_keys: tuple[str, ...] | None
    ) -> dict[str, tuple[ScalarNode, Node]]:
        """Return the entries of a mapping by key, reporting bad and repeated keys.

        ``valid_keys`` None accepts any key, as for flag names.
        """
        entries: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(
                    key_node, _("A key must be a plain word followed by a colon.")
                )
                continue
            key = key_node.value
            if key in entries:
                self.error(
                    key_node,
                    _(
                        "Key %(key)s appears twice; the first is on line "
                        "%(first_line)s. Keep only one of them."
                    ),
                    key=key,
                    first_line=_line(entries[key][0]),
                )
                continue
            if valid_keys is not None and key not in valid_keys:
                suggestion = self.unknown_key(key_node, valid_keys)
                if suggestion:
                    self.suggested.setdefault(id(node), set()).add(suggestion)
                continue
            entries[key] = (key_node, value_node)
        return entries

    def unknown_key(self, node: ScalarNode, valid_keys: tuple[str, ...]) -> str | None:
        """Report an unknown key; return the valid key it is closest to, if any."""
        suggestion = _closest(node.value, valid_keys)
        if suggestion:
            self.error(
                node,
                _(
                    "Unknown key %(key)s. Did you mean %(suggestion)s? "
                    "Valid keys here: %(valid)s."
                ),
                key=node.value,
                suggestion=suggestion,
                valid=", ".join(valid_keys),
            )
        else:
            self.error(
                node,
                _("Unknown key %(key)s. Valid keys here: %(valid)s."),
                key=node.value,
                valid=", ".join(valid_keys),
            )
        return suggestion

    def missing(
        self,
        node: MappingNode,
        expected_key: str,
        template: str,
        at: Node | None = None,
        **values: Any,
    ) -> None:
        """Report that ``expected_key`` is missing from ``node``.

        The error is on the line of ``at`` when given. Nothing is reported when a
        misspelling of the key was reported already.
        """
        if expected_key not in self.suggested.get(id(node), ()):
            self.error(at or node, template, **values)

    def text(self, key: str, node: Node) -> str | None:
        """Return the text of a scalar, or report a list, mapping or blank as None."""
        if not isinstance(node, ScalarNode):
            self.error(
                node,
                _("%(key)s must be a single value, not a list or a mapping."),
                key=key,
            )
            return None
        value = node.value.strip()
        if not value:
            self.error(
                node, _("%(key)s is empty. Write a value after the colon."), key=key
            )
            return None
        return value

    def name(self, key: str, node: Node) -> str | None:
        value = self.text(key, node)
        if value is not None and not NAME_PATTERN.match(value):
            self.error(
                node,
                _(
                    "Invalid %(key)s %(value)s. Use letters, digits, '-', '_' or '.', "
                    "starting with a letter or a digit."
                ),
                key=key,
                value=value,
            )
            return None
        return value

    def date(self, key: str, node: Node) -> dt.date | None:
        value = self.text(key, node)
        if value is None:
            return None
        parsed = None
        if DATE_PATTERN.match(value):
            try:
                parsed = dt.date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            self.error(
                node,
                _(
                    "Invalid date %(value)s for %(key)s. Write the date as YYYY-MM-DD, "
                    "for example 2013-07-15."
                ),
                key=key,
                value=value,
            )
            return None
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            self.error(
                node,
                _(
                    "Invalid year in %(value)s for %(key)s. Write a year from "
                    "%(min)s to %(max)s."
                ),
                key=key,
                value=value,
                min=MIN_YEAR,
                max=MAX_YEAR,
            )
            return None
        return parsed

    def names(self, key: str, node: Node, example: str) -> list[tuple[str, Node]]:
        """Return the items of a list of names with their nodes, reporting repeats."""
        if _is_empty(node):
            return []
        if not isinstance(node, SequenceNode):
            self.error(
                node,
                _("%(key)s must be a list, such as %(key)s: [%(example)s]."),
                key=key,
                example=example,
            )
            return []
        items: list[tuple[str, Node]] = []
        seen: set[str] = set()
        for item in node.value:
            value = self.name(key, item)
            if value is None:
                continue
            if value in seen:
                self.error(
                    item,
                    _("%(value)s is listed twice in %(key)s. Remove one of them."),
                    value=value,
                    key=key,
                )
                continue
            seen.add(value)
            items.append((value, item))
        return items

    # --- the plan --------------------------------------------------------------------

    def read(self, root: Node | None) -> Plan | None:
        if root is None:
            self.error(
                1,
                _(
                    "The plan is empty. Start with strategy: big_bang or "
                    "strategy: phased, then list the flags under flags:."
                ),
            )
            return None
        if not isinstance(root, MappingNode):
            self.error(
                root,
                _(
                    "The plan must start with strategy:, and each of its keys must "
                    "start a line of its own, for example:\n%(example)s"
                ),
                example=PLAN_EXAMPLE,
            )
            return None
        entries = self.mapping(root, PLAN_KEYS)
        strategy = self.strategy(root, entries)

        cutover = None
        if "cutover" in entries:
            key_node, value_node = entries["cutover"]
            if strategy == PHASED:
                self.error(
                    key_node,
                    _(
                        "A phased plan has no cutover date, because each wave has its "
                        "own start. Remove cutover, or write strategy: big_bang."
                    ),
                )
            else:
                # Without a valid strategy the date is still checked on its own.
                cutover = self.date("cutover", value_node)
        elif strategy == BIG_BANG:
            self.missing(
                root,
                "cutover",
                _(
                    "A big_bang plan needs the date on which every flag turns on. "
                    "Add cutover: YYYY-MM-DD."
                ),
            )

        # The waves that flags may name, or None when the flags' waves cannot be
        # checked because the strategy or the list of waves is broken.
        waves: list[Wave] | None = None
        if "waves" in entries:
            key_node, value_node = entries["waves"]
            if strategy == BIG_BANG:
                self.error(
                    key_node,
                    _(
                        "A big_bang plan has no waves, because every flag turns on for "
                        "everyone at the cutover. Remove waves, or write "
                        "strategy: phased."
                    ),
                )
            else:
                waves = self.waves(value_node)
        elif strategy == PHASED:
            self.missing(
                root,
                "waves",
                _(
                    "A phased plan needs at least one wave. Add waves: with a name, a "
                    "start date and teams for each wave."
                ),
            )

        flags: list[FlagSpec] = []
        if "flags" in entries:
            flags = self.flags(entries["flags"], strategy, waves)
        else:
            self.missing(
                root,
                "flags",
                _(
                    "The plan lists no flags. Add flags: followed by one indented "
                    "line per feature, such as '  worklist:'."
                ),
            )

        if self.errors or strategy is None:
            return None
        return Plan(
            strategy=strategy,
            cutover=cutover,
            waves=tuple(waves or ()),
            flags=tuple(flags),
        )

    def strategy(
        self, root: MappingNode, entries: dict[str, tuple[ScalarNode, Node]]
    ) -> str | None:
        if "strategy" not in entries:
            self.missing(
                root,
                "strategy",
                _(
                    "The plan has no strategy. Add strategy: big_bang to turn every "
                    "flag on at one date, or strategy: phased to roll out in waves."
                ),
            )
            return None
        node = entries["strategy"][1]
        value = self.text("strategy", node)
        if value is None:
            return None
        if value not in STRATEGIES:
            suggestion = _closest(value, STRATEGIES) or PHASED
            self.error(
                node,
                _(
                    "Unknown strategy %(value)s. Did you mean %(suggestion)s? Write "
                    "strategy: big_bang or strategy: phased."
                ),
                value=value,
                suggestion=suggestion,
            )
            return None
        return value

    # --- waves -----------------------------------------------------------------------

    def waves(self, node: Node) -> list[Wave] | None:
        """Return the waves, or None when ``waves`` is not a list of waves at all."""
        if not isinstance(node, SequenceNode) or not node.value:
            self.error(
                node,
                _(
                    "waves must be a list with at least one wave. Start each wave on "
                    "its own line with '- name:'."
                ),
            )
            return None
        waves: list[Wave] = []
        first_lines: dict[str, int] = {}
        for item in node.value:
            wave = self.wave(item)
            if wave is None:
                continue
            if wave.name in first_lines:
                self.error(
                    item,
                    _(
                        "Wave %(name)s is already defined on line %(first_line)s. "
                        "Give each wave its own name."
                    ),
                    name=wave.name,
                    first_line=first_lines[wave.name],
                )
                continue
            first_lines[wave.name] = _line(item)
            self.wave_lines[wave.name] = _line(item)
            waves.append(wave)
        return waves

    def wave(self, node: Node) -> Wave | None:
        if not isinstance(node, MappingNode):
            self.error(
                node,
                _(
                    "Each wave must be a mapping with name, start and teams, such as "
                    "'- name: pilot'."
                ),
            )
            return None

        entries = self.mapping(node, WAVE_KEYS)
        examples = {"name": "pilot", "start": "2013-07-15", "teams": "[country-391]"}
        for key, example in examples.items():
            if key not in entries:
                self.missing(
                    node,
                    key,
                    _("This wave has no %(key)s. Add %(key)s: %(example)s."),
                    key=key,
                    example=example,
                )

        name = self.name("name", entries["name"][1]) if "name" in entries else None
        start = self.date("start", entries["start"][1]) if "start" in entries else None
        teams = self.teams(entries["teams"][1]) if "teams" in entries else None
        percent = 100
        if "percent" in entries:
            percent = self.percent(entries["percent"][1])
        if name is None:
            return None

        # A wave with errors is still returned, so that flags naming it do not
        # report it as unknown. Its errors reject the plan anyway.
        if start is None:
            start = dt.date.min
        return Wave(name=name, start=start, teams=teams, percent=percent)

    def teams(self, node: Node) -> tuple[str, ...] | None:
        if isinstance(node, ScalarNode) and node.value.strip() == ALL_TEAMS:
            return None
        if isinstance(node, ScalarNode) and node.value.strip().lower() == ALL_TEAMS:
            self.error(
                node,
                _("Write all in lower case: teams: all."),
            )
            return None
        if isinstance(node, ScalarNode) and node.value.strip():
            self.error(
                node,
                _(
                    "teams must be a list of team codes or the word all. Write "
                    "teams: [%(value)s]."
                ),
                value=node.value.strip(),
            )
            return ()
        items = self.names("teams", node, "country-391")
        if _is_empty(node):
            self.error(
                node,
                _("teams is empty. List at least one team code, or write teams: all."),
            )
        codes = []
        for code, item in items:
            if code.lower() == ALL_TEAMS:
                self.all_in_list(item, alone=len(items) == 1)
                continue
            self.check_team(code, item)
            codes.append(code)
        return tuple(codes)

    def all_in_list(self, node: Node, alone: bool) -> None:
        """Report the word all inside a list, where it would read as a team code."""
        if alone:
            self.error(
                node,
                _("Write teams: all alone, without brackets, to include every user."),
            )
        else:
            self.error(
                node,
                _(
                    "all cannot be listed with team codes. Write teams: all alone, "
                    "without brackets, to include every user, or list team codes "
                    "only."
                ),
            )

    def check_team(self, code: str, node: Node) -> None:
        if self.known_teams is None or code in self.known_teams:
            return
        suggestion = _closest(code, self.known_teams)
        if suggestion:
            self.error(
                node,
                _("Unknown team %(team)s. Did you mean %(suggestion)s?"),
                team=code,
                suggestion=suggestion,
            )
        else:
            self.error(
                node,
                _("Unknown team %(team)s. Known teams: %(known)s."),
                team=code,
                known=_listing(self.known_teams),
            )

    def percent(self, node: Node) -> int:
        value = self.text("percent", node)
        if value is None:
            return 100
        if value.isascii() and value.isdigit() and 1 <= int(value) <= 100:
            return int(value)
        self.error(
            node,
            _(
                "Invalid percent %(value)s. Write a whole number from 1 to 100, "
                "without the %% sign, or remove percent to include every user of the "
                "teams."
            ),
            value=value,
        )
        return 100

    # --- flags -----------------------------------------------------------------------

    def flags(
        self,
        entry: tuple[ScalarNode, Node],
        strategy: str | None,
        waves: list[Wave] | None,
    ) -> list[FlagSpec]:
        key_node, node = entry
        if _is_null(node):
            self.error(
                key_node,
                _(
                    "flags has no value. Add one indented line per feature below it, "
                    "such as '  worklist:', or write flags: {} for a plan that turns "
                    "nothing on."
                ),
            )
            return []
        if not isinstance(node, MappingNode):
            self.error(
                node,
                _(
                    "flags must be a mapping from each flag name to its settings. "
                    "Write each flag on its own indented line, such as '  worklist:'."
                ),
            )
            return []
        entries = self.mapping(node, None)
        specs: list[FlagSpec] = []
        requires_nodes: dict[str, dict[str, Node]] = {}
        for flag_name, (flag_key, value_node) in entries.items():
            if flag_name not in FLAG_CATALOGUE:
                self.unknown_flag(flag_key)
                continue
            spec, requires = self.flag(flag_name, value_node, strategy, waves)
            if spec is not None:
                specs.append(spec)
                requires_nodes[flag_name] = requires
        self.check_prerequisites(specs, requires_nodes)
        return specs

    def unknown_flag(self, node: ScalarNode) -> None:
        """Report a flag name that Cadence does not have, with the closest one."""
        suggestion = closest_flag(node.value)
        if suggestion:
            self.suggested_flags.add(suggestion)
        self.errors.append(PlanError(_line(node), unknown_flag_message(node.value)))

    def flag(
        self,
        name: str,
        node: Node,
        strategy: str | None,
        waves: list[Wave] | None,
    ) -> tuple[FlagSpec | None, dict[str, Node]]:
        """Read one flag; return it with the node of each prerequisite it names.

        A flag with no settings, written ``worklist:`` alone, gets the defaults.
        """
        wave_names = [wave.name for wave in waves or ()]
        if _is_null(node):
            return FlagSpec(name=name, description="", waves=tuple(wave_names)), {}
        if not isinstance(node, MappingNode):
            self.error(
                node,
                _(
                    "The settings of flag %(flag)s must be an indented mapping, such "
                    "as description: and one sentence on the next line, or nothing "
                    "after the colon."
                ),
                flag=name,
            )
            return None, {}

        entries = self.mapping(node, FLAG_KEYS)
        description = ""
        if "description" in entries:
            description = self.text("description", entries["description"][1]) or ""

        requires: dict[str, Node] = {}
        if "requires" in entries:
            items = self.names("requires", entries["requires"][1], "worklist")
            requires = dict(items)
            for prerequisite, item in items:
                self.requires_lines[(name, prerequisite)] = _line(item)
        training = None
        if "training" in entries:
            training_node = entries["training"][1]
            training = self.name("training", training_node)
            self.training_lines[name] = _line(training_node)
        flag_waves = tuple(wave_names)
        if "waves" in entries:
            flag_waves = self.flag_waves(entries["waves"], strategy, waves)

        spec = FlagSpec(
            name=name,
            description=description,
            requires=tuple(requires),
            training=training,
            waves=flag_waves,
        )
        return spec, requires

    def flag_waves(
        self,
        entry: tuple[ScalarNode, Node],
        strategy: str | None,
        waves: list[Wave] | None,
    ) -> tuple[str, ...]:
        """Return the waves a flag names, in plan order.

        The names are not checked when ``waves`` is None, because the strategy or
        the plan's list of waves has an error of its own already.
        """
        key_node, value_node = entry
        if strategy == BIG_BANG:
            self.error(
                key_node,
                _(
                    "waves on a flag needs strategy: phased. Remove it, because a "
                    "big_bang plan turns every flag on for everyone at the cutover."
                ),
            )
            return ()
        items = self.names("waves", value_node, "pilot")
        if _is_empty(value_node):
            self.error(
                value_node,
                _(
                    "waves is empty, so this flag would never turn on. List at least "
                    "one wave, or remove waves to give the flag in every wave."
                ),
            )
        if waves is None:
            return ()
        wave_names = [wave.name for wave in waves]
        chosen = []
        for wave_name, item in items:
            if wave_name in wave_names:
                chosen.append(wave_name)
                continue
            suggestion = _closest(wave_name, wave_names)
            if suggestion:
                self.error(
                    item,
                    _("Unknown wave %(wave)s. Did you mean %(suggestion)s?"),
                    wave=wave_name,
                    suggestion=suggestion,
                )
            else:
                self.error(
                    item,
                    _("Unknown wave %(wave)s. Waves of this plan: %(known)s."),
                    wave=wave_name,
                    known=_listing(wave_names),
                )
        # Keep plan order, so the strategies compile in the order of the waves.
        return tuple(name for name in wave_names if name in chosen)

    def check_prerequisites(
        self, specs: list[FlagSpec], requires_nodes: dict[str, dict[str, Node]]
    ) -> None:
        """Report unknown prerequisites, cycles, and prerequisites that have their own.

        Unleash evaluates one level of dependencies only: a parent feature must not
        depend on another feature, so the plan may not chain prerequisites either.
        """
        in_plan = [spec.name for spec in specs]
        graph: dict[str, list[str]] = {}
        for spec in specs:
            graph[spec.name] = []
            for prerequisite, node in requires_nodes[spec.name].items():
                if prerequisite in in_plan:
                    graph[spec.name].append(prerequisite)
                else:
                    self.missing_prerequisite(spec.name, prerequisite, node)

        in_cycle: set[str] = set()
        for cycle in _find_cycles(graph):
            in_cycle.update(cycle)
            first, second = cycle[0], cycle[1 % len(cycle)]
            self.error(
                requires_nodes[first][second],
                _(
                    "The prerequisites form a cycle: %(cycle)s. Remove one of these "
                    "requires."
                ),
                cycle=" -> ".join([*cycle, first]),
            )

        for name, prerequisites in graph.items():
            if name in in_cycle:
                continue
            for prerequisite in prerequisites:
                parents = graph.get(prerequisite) or []
                if not parents or prerequisite in in_cycle:
                    continue
                self.error(
                    requires_nodes[name][prerequisite],
                    _(
                        "%(prerequisite)s cannot be a prerequisite, because it "
                        "requires %(parents)s itself and Unleash evaluates one level "
                        "of prerequisites only. Require %(parents)s here instead, or "
                        "remove the requires of %(prerequisite)s."
                    ),
                    prerequisite=prerequisite,
                    parents=", ".join(parents),
                )

    def missing_prerequisite(self, flag: str, prerequisite: str, node: Node) -> None:
        """Report a prerequisite that is not a flag of the plan.

        Suggestions come from the catalogue, so a misspelled flag of the plan is
        never offered as the fix.
        """
        if prerequisite in FLAG_CATALOGUE:
            if prerequisite in self.suggested_flags:
                # The plan's misspelling of this flag was reported already.
                return
            self.error(
                node,
                _(
                    "Prerequisite %(prerequisite)s is not in this plan, so %(flag)s "
                    "would stay off for everyone. Add %(prerequisite)s under flags:, "
                    "or remove it from requires."
                ),
                prerequisite=prerequisite,
                flag=flag,
            )
            return
        suggestion = closest_flag(prerequisite)
        if suggestion:
            self.error(
                node,
                _("Unknown prerequisite %(flag)s. Did you mean %(suggestion)s?"),
                flag=prerequisite,
                suggestion=suggestion,
            )
        else:
            self.error(
                node,
                _("Unknown prerequisite %(flag)s. The flags of Cadence are %(known)s."),
                flag=prerequisite,
                known=", ".join(KNOWN_FLAGS),
            )


def _find_cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Return each cycle of ``graph`` once, from its first node in graph order."""
    order = {name: index for index, name in enumerate(graph)}
    cycles: list[list[str]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for child in graph.get(name, ()):
            if child in path:
                cycle = path[path.index(child) :]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                    cycles.append(cycle[start:] + cycle[:start])
            elif child not in done:
                visit(child, [*path, child])
        done.add(name)

    for name in graph:
        if name not in done:
            visit(name, [name])
    return cycles
