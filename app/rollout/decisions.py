"""Explain in the plan's terms why a flag is on or off for a user, and when it turns on.

The app obeys the engine, which evaluates the compiled Unleash state. ``decide`` walks
the plan, the kill switch and the overrides in the order of the compiled state, and
records which of them decided. That order is the kill switch, the prerequisites, the
user's override, the team's override, then the waves or the cutover with the
training gate. The tests check that ``decide`` and the engine agree for every user,
flag and date they try.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.rollout.engine import normalized_hash
from app.rollout.messages import Message, _
from app.rollout.plan import FlagSpec, Wave
from app.rollout.runtime import OverrideInfo, Snapshot
from app.rollout.subjects import Subject

KILL_SWITCH = "kill_switch"
NOT_IN_PLAN = "not_in_plan"
PREREQUISITE = "prerequisite"
OVERRIDE = "override"
WAVE = "wave"
CUTOVER = "cutover"
TRAINING = "training"


@dataclass(frozen=True)
class Reason:
    """One step of a decision. ``depth`` 1 marks the steps of a prerequisite.

    ``wave`` names the wave of a WAVE step.
    """

    kind: str
    passed: bool
    message: Message
    depth: int = 0
    wave: str | None = None


@dataclass(frozen=True)
class Decision:
    """Whether a flag is on for a user on a date, with the reasons in evaluation order.

    ``wave`` names the wave that gave the flag, when one did. ``next_wave`` names the
    wave that gives it to the user later, when the flag is off because no wave has
    given it yet and one will.
    """

    flag: str
    enabled: bool
    reasons: tuple[Reason, ...]
    wave: str | None = None
    next_wave: str | None = None

    @property
    def deciding(self) -> Reason:
        """Return the top-level reason that settled the decision.

        For a flag that is off, it is the step of the wave that gives the flag
        later, if one does, so that the reason names the same date as the forecast.
        Otherwise it is the last top-level step that failed. Steps of a
        prerequisite come after its own top-level step, so they never decide.
        """
        top_level = [reason for reason in self.reasons if reason.depth == 0]
        if not self.enabled:
            failed = [reason for reason in top_level if not reason.passed]
            for reason in failed:
                if self.next_wave and reason.wave == self.next_wave:
                    return reason
            if failed:
                return failed[-1]
        return top_level[-1]

    @property
    def waits_for_training(self) -> str | None:
        """Return the module whose training gate alone keeps the flag off, or None."""
        reason = self.deciding
        if not self.enabled and reason.kind == TRAINING:
            return reason.message.values["module"]
        return None


@dataclass(frozen=True)
class Forecast:
    """The date on which a flag that is off for a user turns on, according to the plan.

    ``team`` is None when the plan gives the flag to everyone on ``day``. ``day`` is
    None when no date in the plan turns the flag on for the user. ``killed`` is
    True when the kill switch of the flag, or of one of its prerequisites, is pulled.
    """

    killed: bool = False
    day: dt.date | None = None
    team: str | None = None
    training: str | None = None


def _override_reason(override: OverrideInfo, depth: int) -> Reason:
    values = {
        "actor": override.actor or "?",
        "date": override.since.date(),
        "reason": override.reason,
        "team": override.team,
    }
    if override.user_id and override.enabled:
        template = _("Forced on for this user by %(actor)s on %(date)s: %(reason)s")
    elif override.user_id:
        template = _("Forced off for this user by %(actor)s on %(date)s: %(reason)s")
    elif override.enabled:
        template = _("Forced on for team %(team)s by %(actor)s on %(date)s: %(reason)s")
    else:
        template = _(
            "Forced off for team %(team)s by %(actor)s on %(date)s: %(reason)s"
        )
    return Reason(OVERRIDE, override.enabled, Message(template, values), depth)


def _in_share(wave: Wave, subject: Subject) -> bool:
    """Return whether the user's bucket in ``wave`` is within the wave's percent."""
    if wave.percent >= 100:
        return True
    return normalized_hash(wave.name, str(subject.user_id)) <= wave.percent


def _next_wave(waves: list[Wave], subject: Subject, day: dt.date) -> str | None:
    """Return the wave that gives the feature to ``subject`` first after ``day``."""
    coming = [
        wave
        for wave in waves
        if wave.start > day
        and wave.includes_team(subject.team)
        and _in_share(wave, subject)
    ]
    if not coming:
        return None
    return min(coming, key=lambda wave: wave.start).name


def _wave_reason(wave: Wave, subject: Subject, day: dt.date, depth: int) -> Reason:
    reason = _wave_step(wave, subject, day)
    return Reason(WAVE, reason[0], reason[1], depth, wave.name)


def _wave_step(wave: Wave, subject: Subject, day: dt.date) -> tuple[bool, Message]:
    values = {
        "wave": wave.name,
        "start": wave.start,
        "day": day,
        "team": subject.team,
        "teams": ", ".join(wave.teams or ()),
        "percent": wave.percent,
    }
    if not wave.includes_team(subject.team):
        if subject.team is None:
            template = _(
                "Wave %(wave)s is for teams %(teams)s, and this user has no team."
            )
        else:
            template = _("Wave %(wave)s is for teams %(teams)s, not %(team)s.")
        return False, Message(template, values)
    if wave.percent < 100:
        values["bucket"] = normalized_hash(wave.name, str(subject.user_id))
    if day < wave.start and wave.percent < 100 and values["bucket"] > wave.percent:
        template = _(
            "Wave %(wave)s starts on %(start)s, after %(day)s, and it will give the "
            "feature to %(percent)s%% of its users. This user's bucket, %(bucket)s "
            "of 100, is above that share."
        )
        return False, Message(template, values)
    if day < wave.start:
        template = _("Wave %(wave)s starts on %(start)s, after %(day)s.")
        return False, Message(template, values)
    if wave.percent < 100:
        if values["bucket"] > wave.percent:
            template = _(
                "Wave %(wave)s gives the feature to %(percent)s%% of its "
                "users, and this user's bucket, %(bucket)s of 100, is above "
                "that share."
            )
            return False, Message(template, values)
        template = _(
            "Wave %(wave)s gives the feature to %(percent)s%% of its users "
            "since %(start)s, and this user's bucket, %(bucket)s of 100, is "
            "within that share."
        )
    elif wave.teams is None:
        template = _("Wave %(wave)s gives the feature to everyone since %(start)s.")
    else:
        template = _(
            "Wave %(wave)s gives the feature to team %(team)s since %(start)s."
        )
    return True, Message(template, values)


def _training_reason(spec: FlagSpec, subject: Subject, depth: int) -> Reason:
    passed_at = subject.passed_modules.get(spec.training)
    if passed_at is None:
        template = _("Training gate: this user has not passed module %(module)s yet.")
        values = {"module": spec.training}
        return Reason(TRAINING, False, Message(template, values), depth)
    template = _("Training gate: this user passed module %(module)s on %(date)s.")
    values = {"module": spec.training, "date": passed_at.date()}
    return Reason(TRAINING, True, Message(template, values), depth)


def _decide_own(
    snapshot: Snapshot,
    spec: FlagSpec,
    subject: Subject,
    day: dt.date,
    reasons: list[Reason],
    depth: int,
) -> tuple[bool, str | None, str | None]:
    """Decide a flag without its prerequisites.

    Return the result, the wave that gave the flag and, when no wave has given it
    yet, the wave that will. This is what Unleash calls the parent's own check: the
    switch and strategies.
    """
    kill_switch = snapshot.kill_switches.get(spec.name)
    if kill_switch is not None:
        message = Message(
            _(
                "The kill switch of %(flag)s was pulled by %(actor)s on %(date)s: "
                "%(reason)s"
            ),
            {
                "flag": spec.name,
                "actor": kill_switch.actor or "?",
                "date": kill_switch.since.date(),
                "reason": kill_switch.reason,
            },
        )
        reasons.append(Reason(KILL_SWITCH, False, message, depth))
        return False, None, None

    user_override = snapshot.user_override(spec.name, subject.user_id)
    if user_override is not None:
        reasons.append(_override_reason(user_override, depth))
        return user_override.enabled, None, None
    team_override = snapshot.team_override(spec.name, subject.team)
    if team_override is not None:
        reasons.append(_override_reason(team_override, depth))
        return team_override.enabled, None, None

    plan = snapshot.plan
    wave_name = None
    if plan.is_phased:
        waves = plan.waves_of(spec)
        for wave in waves:
            reason = _wave_reason(wave, subject, day, depth)
            reasons.append(reason)
            if reason.passed:
                wave_name = wave.name
                break
        else:
            return False, None, _next_wave(waves, subject, day)
    else:
        values = {"cutover": plan.cutover, "day": day}
        if day < plan.cutover:
            template = _("The cutover is on %(cutover)s, after %(day)s.")
            reasons.append(Reason(CUTOVER, False, Message(template, values), depth))
            return False, None, None
        template = _(
            "The cutover on %(cutover)s has passed, so every user gets the feature."
        )
        reasons.append(Reason(CUTOVER, True, Message(template, values), depth))

    if spec.training:
        reason = _training_reason(spec, subject, depth)
        reasons.append(reason)
        return reason.passed, wave_name, None
    return True, wave_name, None


def decide(snapshot: Snapshot, flag: str, subject: Subject, day: dt.date) -> Decision:
    """Decide whether ``flag`` is on for ``subject`` on business date ``day``."""
    plan = snapshot.plan
    spec = plan.flag(flag) if plan is not None else None
    if spec is None:
        message = Message(
            _("%(flag)s is not in the rollout plan, so it is off for everyone."),
            {"flag": flag},
        )
        return Decision(flag, False, (Reason(NOT_IN_PLAN, False, message),))

    reasons: list[Reason] = []
    if spec.name in snapshot.kill_switches:
        _decide_own(snapshot, spec, subject, day, reasons, 0)
        return Decision(flag, False, tuple(reasons))

    for name in spec.requires:
        prerequisite_reasons: list[Reason] = []
        met, _wave, _next = _decide_own(
            snapshot, plan.flag(name), subject, day, prerequisite_reasons, 1
        )
        if met:
            template = _("Prerequisite %(flag)s is on for this user.")
        else:
            template = _(
                "Prerequisite %(flag)s is off for this user, so this feature "
                "is off too."
            )
        reasons.append(Reason(PREREQUISITE, met, Message(template, {"flag": name})))
        reasons.extend(prerequisite_reasons)
        if not met:
            return Decision(flag, False, tuple(reasons))

    enabled, wave, next_wave = _decide_own(snapshot, spec, subject, day, reasons, 0)
    return Decision(flag, enabled, tuple(reasons), wave, next_wave)


def forecast(
    snapshot: Snapshot, flag: str, subject: Subject, today: dt.date
) -> Forecast:
    """Say when ``flag``, off today for ``subject``, turns on according to the plan.

    Each later start date of the plan is tried in turn with the same kill switches,
    overrides and training passes, so the result assumes none of them changes.
    """
    plan = snapshot.plan
    spec = plan.flag(flag) if plan is not None else None
    if spec is None:
        return Forecast(killed=flag in snapshot.kill_switches)
    if any(name in snapshot.kill_switches for name in (flag, *spec.requires)):
        return Forecast(killed=True)
    waiting_module = decide(snapshot, flag, subject, today).waits_for_training
    if waiting_module:
        return Forecast(training=waiting_module)
    for day in plan.start_dates():
        if day <= today:
            continue
        decision = decide(snapshot, flag, subject, day)
        module = decision.waits_for_training
        if decision.enabled or module:
            wave = plan.wave(decision.wave) if decision.wave else None
            gets_team = plan.is_phased and (wave is None or wave.teams is not None)
            team = subject.team if gets_team else None
            return Forecast(day=day, team=team, training=module)
    return Forecast()


def no_team_note(
    snapshot: Snapshot, decision: Decision, subject: Subject
) -> Message | None:
    """Return a note for a user without a team whom the waves leave without the flag.

    Waves that name teams never include such a user, which the wave steps alone do
    not make obvious.
    """
    plan = snapshot.plan
    if decision.enabled or subject.team is not None or plan is None:
        return None
    if not plan.is_phased or decision.deciding.kind != WAVE:
        return None
    template = _(
        "This user has no team, so only a wave with teams: all or an override can "
        "give them %(flag)s."
    )
    return Message(template, {"flag": decision.flag})
