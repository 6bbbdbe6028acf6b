"""Plan versions: draft → consultation → approved → published, with who decided what (docs/plans.md).

Each version of a year's plan is a stored, never-changed plan document (jxcore.scheme.document)
with its digest, so a run (``runs.scheme_digest``) says which version scored it. A revision is a
new version naming its parent; a version's state is its last transition's. Versions, transitions
and comments are append-only and chained (``jx verify``).

Roles: drafting (new, import, submit, answer) is for admins and clerks of the drafting department
(``settings.plans.drafting_department``, default ``RSK``, the personnel section 人事科); approval and
publication for admins; comments for branch accounts (users with a unit). Until the store has its
first user, every act is open (a fresh or demo store), as with entries. Refusals are AccessDenied
and logged.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

from jxcore.errors import (
    AccessDenied,
    JxError,
    Location,
    LockedError,
    Problem,
    SchemeError,
    UsageError,
)
from jxcore.models import Scheme
from jxcore.plugins import Registry
from jxcore.store import Store, ledger
from jxcore.store.tables import plan_comments, plan_transitions, plan_versions

DEFAULT_DRAFTING_DEPARTMENT = "RSK"


class State(enum.Enum):
    DRAFT = "draft"
    CONSULTATION = "consultation"  #: out to the branches for comments (征求意见)
    APPROVED = "approved"  #: by the bureau meeting (局务会议), with its minutes
    PUBLISHED = "published"  #: the plan in force for its period
    SUPERSEDED = "superseded"  #: replaced by a revision or a later published version


class PlanAction(enum.Enum):
    """What the access log records for plan acts."""

    DRAFT = "plan_draft"
    SUBMIT = "plan_submit"
    COMMENT = "plan_comment"
    ANSWER = "plan_answer"
    APPROVE = "plan_approve"
    PUBLISH = "plan_publish"


_DRAFTING = (PlanAction.DRAFT, PlanAction.SUBMIT, PlanAction.ANSWER)
#: state → the states it may move to (superseded: by a revision or by a newer published version)
_NEXT = {State.DRAFT: (State.CONSULTATION, State.APPROVED, State.SUPERSEDED),
         State.CONSULTATION: (State.APPROVED, State.SUPERSEDED),
         State.APPROVED: (State.PUBLISHED, State.SUPERSEDED),
         State.PUBLISHED: (State.SUPERSEDED,), State.SUPERSEDED: ()}
_REF = re.compile(r"([0-9]{4})(?:v([0-9]+))?")


@attrs.frozen
class PlanVersion:
    """One stored version of a year's plan; ``document`` is its JSON plan document."""

    id: int
    scheme: str
    period: int
    number: int
    state: State
    digest: str
    parent: int | None  #: the parent version's number (same period) or None
    parent_id: int | None
    origin: str
    created_by: str
    created_at: dt.datetime
    departments: Mapping[str, str] | None = None
    document: str = attrs.field(default="", repr=False)

    @property
    def label(self) -> str:
        return f"{self.period}v{self.number}"

    def plan(self) -> Scheme:
        """The plan as a :class:`Scheme` (no pack path; see :func:`runnable`)."""
        from jxcore.scheme.document import scheme_from_document

        return scheme_from_document(self.document)


@attrs.frozen
class Transition:
    version: int  #: the version's number
    from_state: State | None
    to_state: State
    by: str
    at: dt.datetime
    reason: str | None = None
    meeting: str | None = None
    minutes_ref: str | None = None


@attrs.frozen
class Comment:
    id: int
    version: int  #: the version's number
    node: str
    unit: str | None
    answers: int | None  #: the comment this one answers (None: a branch's comment)
    by: str
    at: dt.datetime
    text: str


@attrs.frozen
class Record:
    """A version with its whole record: transitions and comments (with answers), oldest first."""

    version: PlanVersion
    transitions: tuple[Transition, ...]
    comments: tuple[Comment, ...]

    def unanswered(self) -> list[Comment]:
        answered = {c.answers for c in self.comments if c.answers is not None}
        return [c for c in self.comments if c.answers is None and c.id not in answered]


@attrs.frozen
class ImportResult:
    version: PlanVersion
    created: bool  #: False: the store held this plan already (imports are idempotent)
    note: str = ""


# ---------------------------------------------------------------------------------------------
# Reading


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read(connection: sa.Connection, *where: Any) -> list[PlanVersion]:
    """The versions matching ``where``, each with its state: its last transition's."""
    v, t = plan_versions.c, plan_transitions.c
    rows = connection.execute(sa.select(plan_versions).where(*where).order_by(v.period, v.number)).all()
    ids = [r.id for r in rows]
    states: dict[int, str] = {}
    numbers: dict[int, int] = {}
    if ids:
        for version_id, state in connection.execute(sa.select(t.version_id, t.to_state).where(
                t.version_id.in_(ids)).order_by(t.id)):
            states[version_id] = state
        parents = sorted({r.parent_id for r in rows if r.parent_id is not None})
        if parents:
            numbers = dict(connection.execute(sa.select(v.id, v.number).where(v.id.in_(parents))).all())
    return [PlanVersion(id=r.id, scheme=r.scheme, period=r.period, number=r.number,
                        state=State(states.get(r.id, "draft")), digest=r.digest, parent=numbers.get(r.parent_id),
                        parent_id=r.parent_id, origin=r.origin, created_by=r.created_by, created_at=r.created_at,
                        departments=json.loads(r.departments) if r.departments else None, document=r.document)
            for r in rows]


def versions(store: Store, scheme: str, period: int | None = None) -> list[PlanVersion]:
    """Every version of a scheme's plans (of one period), by period and number."""
    v = plan_versions.c
    where = [v.scheme == scheme] + ([v.period == period] if period is not None else [])
    with store.engine.connect() as connection:
        return _read(connection, *where)


def get_version(store: Store, scheme: str, period: int, number: int | None = None) -> PlanVersion:
    """Version ``number`` of the period, else the published one, else the newest; UsageError if none."""
    found = versions(store, scheme, period)
    if number is not None:
        match = [x for x in found if x.number == number]
        if match:
            return match[0]
        known = ", ".join(x.label for x in found) or "none"
        raise UsageError(f"scheme {scheme} has no plan version {period}v{number}",
                         hint=f"the versions of {period} are: {known} (jx plan list)")
    if not found:
        raise UsageError(f"the store has no plan version of scheme {scheme} for {period}",
                         hint=f"import the pack's plans with `jx plan import --scheme {scheme}`, "
                              f"or start one with `jx plan new {period} --from {period - 1}`")
    published = [x for x in found if x.state is State.PUBLISHED]
    return (published or found)[-1]


def published(store: Store, scheme: str, period: int) -> PlanVersion | None:
    """The period's plan in force, or None."""
    found = [x for x in versions(store, scheme, period) if x.state is State.PUBLISHED]
    return found[-1] if found else None


def published_digest(connection: sa.Connection, scheme: str, period: int) -> str | None:
    """The digest of the period's plan in force, read on an open connection (inside a transaction
    that authorizes a run or an entry against it); None while the store has no published version."""
    v = plan_versions.c
    found = [x for x in _read(connection, v.scheme == scheme, v.period == period) if x.state is State.PUBLISHED]
    return found[-1].digest if found else None


def parse_ref(text: str) -> tuple[int, int | None]:
    """``2010`` (the published version, else the newest) or ``2010v3`` → (period, number)."""
    match = _REF.fullmatch(str(text).strip())
    if match is None:
        raise UsageError(f"{text!r} names no plan version", hint="write a year (2010) or a year and a version (2010v3)")
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def record(store: Store, version: PlanVersion) -> Record:
    """The version with its transitions and comments."""
    t, c = plan_transitions.c, plan_comments.c
    with store.engine.connect() as connection:
        moves = connection.execute(sa.select(plan_transitions).where(t.version_id == version.id)
                                   .order_by(t.id)).all()
        notes = connection.execute(sa.select(plan_comments).where(c.version_id == version.id)
                                   .order_by(c.id)).all()
    return Record(version,
                  tuple(Transition(version.number, State(m.from_state) if m.from_state else None,
                                   State(m.to_state), m.by_user, m.at, m.reason, m.meeting, m.minutes_ref)
                        for m in moves),
                  tuple(Comment(n.id, version.number, n.node_code, n.unit_code, n.answers, n.by_user, n.at, n.text)
                        for n in notes))


def version_numbers(store: Store, scheme: str, digests: Sequence[str]) -> dict[str, str]:
    """digest → version label (``2010v3``) for the digests that are stored versions: which version
    scored a run (``runs.scheme_digest``)."""
    if not digests:
        return {}
    v = plan_versions.c
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(v.digest, v.period, v.number).where(
            v.scheme == scheme, v.digest.in_(sorted(set(digests)))).order_by(v.id)).all()
    found: dict[str, str] = {}
    for row in rows:  # the first version with the digest: a later identical one is a re-import
        found.setdefault(row.digest, f"{row.period}v{row.number}")
    return found


# ---------------------------------------------------------------------------------------------
# Who may act


def _refuse(store: Store, user: str, action: PlanAction, message: str, hint: str, version: str,
            scheme: str, period: int) -> AccessDenied:
    from jxcore.records.access import log_access

    log_access(store, user, action, message, allowed=False, scheme=scheme, period=period,  # type: ignore[arg-type]
               target=f"plan {version}")
    return AccessDenied(message, hint=hint)


def drafting_department(plan: Scheme | None) -> str:
    """The department whose clerks draft plans: ``settings.plans.drafting_department``, else RSK."""
    settings = (plan.settings.get("plans") if plan is not None else None) or {}
    return str(settings.get("drafting_department") or DEFAULT_DRAFTING_DEPARTMENT)


def _allowed(store: Store, user: str, action: PlanAction, *, scheme: str, period: int, target: str,
             plan: Scheme | None = None) -> str | None:
    """The unit of a branch account commenting (else None) if ``user`` may do ``action``; else
    AccessDenied, logged. Open while the store has no users."""
    from jxcore.records.access import Role, users
    from jxcore.services.auth import get_account

    if not users(store):
        return None
    where: dict[str, Any] = {"version": target, "scheme": scheme, "period": period}
    account = get_account(store, user)
    if account is None:
        raise _refuse(store, user, action, f"unknown user {user!r}", "an admin adds users with jx user add", **where)
    if account.disabled:
        raise _refuse(store, user, action, f"user {user} is disabled", "an admin enables the account", **where)
    if action is PlanAction.COMMENT:
        if account.unit_code is None:
            raise _refuse(store, user, action, f"{user} is not a branch account: only branches comment on a draft",
                          "comments come from accounts tied to a unit (jx user add … --unit CODE)", **where)
        return account.unit_code
    if account.role is Role.ADMIN:
        return None
    department = drafting_department(plan)
    if action in _DRAFTING and account.role is Role.CLERK and account.department == department:
        return None
    who = f"{user} ({account.role.value}" + (f" of {account.department})" if account.department else ")")
    if action in _DRAFTING:
        hint = f"plans are drafted by the personnel section ({department}) or an admin"
    else:
        hint = f"only an admin may {action.value.split('_')[1]} a plan, after the bureau meeting's decision"
    raise _refuse(store, user, action, f"{who} may not {action.value.split('_')[1]} plan {target}", hint, **where)


def _log_allowed(store: Store, user: str, action: PlanAction, message: str, version: PlanVersion) -> None:
    from jxcore.records.access import log_access, users

    if users(store):
        log_access(store, user, action, message, allowed=True, scheme=version.scheme,  # type: ignore[arg-type]
                   period=version.period, target=f"plan {version.label}")


# ---------------------------------------------------------------------------------------------
# Writing


def _insert_version(tx: Any, *, scheme: Scheme, document: str, digest: str, departments: Mapping | None,
                    parent: PlanVersion | None, origin: str, user: str, state: State,
                    reason: str | None) -> int:
    """A new version and its first transition, chained; the period's open drafts it revises are
    superseded. Returns the new version's id."""
    connection = tx.connection
    ledger.lock_writers(connection)  # version numbers are handed out one writer at a time
    v = plan_versions.c
    number = connection.execute(sa.select(sa.func.coalesce(sa.func.max(v.number), 0)).where(
        v.scheme == scheme.name, v.period == scheme.period.year)).scalar_one() + 1
    now = _now()
    new_id = connection.execute(plan_versions.insert(), {
        "scheme": scheme.name, "period": scheme.period.year, "number": number, "document": document,
        "digest": digest, "departments": json.dumps(dict(departments), ensure_ascii=False) if departments else None,
        "parent_id": parent.id if parent else None, "origin": origin, "created_by": user,
        "created_at": now}).inserted_primary_key[0]
    ledger.append_where(connection, "plan_versions", sa.column("id") == new_id)
    _transition(connection, new_id, None, state, user, reason or origin)
    for old in _read(connection, v.scheme == scheme.name, v.period == scheme.period.year, v.id != new_id):
        if old.state in (State.DRAFT, State.CONSULTATION) and state is State.DRAFT:
            _transition(connection, old.id, old.state, State.SUPERSEDED, user, f"revised as version {number}")
    return new_id


def _transition(connection: sa.Connection, version_id: int, old: State | None, new: State, user: str,
                reason: str | None, meeting: str | None = None, minutes_ref: str | None = None) -> None:
    new_id = connection.execute(plan_transitions.insert(), {
        "version_id": version_id, "from_state": old.value if old else None, "to_state": new.value,
        "by_user": user, "at": _now(), "reason": reason, "meeting": meeting, "minutes_ref": minutes_ref,
    }).inserted_primary_key[0]  # type: ignore[index]  # an INSERT always has its key
    ledger.append_where(connection, "plan_transitions", sa.column("id") == new_id)


def _by_id(store: Store, version_id: int) -> PlanVersion:
    with store.engine.connect() as connection:
        return _read(connection, plan_versions.c.id == version_id)[0]


def _pack(registry: Registry, scheme: str):
    from jxcore.scheme import load_pack
    from jxcore.services.schemes import pack_path

    return load_pack(pack_path(registry, scheme))


def _build(registry: Registry, scheme: str, data: Any, *, file: str, period: int,
           period_required: bool = True) -> Scheme:
    """``data`` (a plan mapping) checked against the pack, as ``jx validate`` checks a plan file."""
    from jxcore.scheme.checks import build_plan
    from jxcore.scheme.fields import Reader

    pack = _pack(registry, scheme)
    reader = Reader(file)
    built = build_plan(data, reader=reader, period=period, period_required=period_required, pack=pack,
                       registry=registry)
    if built is None or reader.problems:
        raise SchemeError.from_problems(f"plan {file} of scheme {pack.name} is invalid", reader.problems)
    return built


def _store_new(store: Store, plan: Scheme, *, user: str, origin: str, departments: Mapping | None,
               parent: PlanVersion | None, state: State = State.DRAFT, reason: str | None = None) -> PlanVersion:
    from jxcore.scheme.document import digest, dumps

    document = dumps(plan)
    new_id = store.write(lambda tx: _insert_version(
        tx, scheme=plan, document=document, digest=digest(document), departments=departments, parent=parent,
        origin=origin, user=user, state=state, reason=reason))
    return _by_id(store, new_id)


def import_pack(store: Store, registry: Registry, scheme: str, *, user: str) -> list[ImportResult]:
    """Every plan of the installed pack (or pack directory) as the record of its period: a period
    the store has no version of gets the plan as a published version; one whose published (or newest)
    version has the same digest is left alone (idempotent); one whose plan differs becomes a draft,
    for it is a change to a published plan and needs an approval."""
    from jxcore.scheme import load_scheme
    from jxcore.services.schemes import pack_path

    path = pack_path(registry, scheme)
    pack = _pack(registry, scheme)
    results = []
    for period in pack.periods:
        plan = load_scheme(path, period, registry)
        _allowed(store, user, PlanAction.PUBLISH, scheme=pack.name, period=period, target=f"{period} (pack)",
                 plan=plan)
        results.append(_import_one(store, registry, plan, user=user,
                                   origin=f"pack {pack.name}: plans/{period}.yaml",
                                   departments=_departments_of(path, period)))
    return results


def _departments_of(pack_dir: Path, period: int) -> dict | None:
    """The plan file's ``departments:`` (code → name): the document keeps only the codes."""
    from jxcore.scheme.loader import SchemeFiles
    from jxcore.scheme.yamlio import read_yaml

    files = SchemeFiles.find(pack_dir)
    data, _ = read_yaml(files.plan(period), f"plans/{period}.yaml", "")
    written = data.get("departments") if isinstance(data, Mapping) else None
    return {str(k): str(v) for k, v in written.items()} if isinstance(written, Mapping) else None


def _import_one(store: Store, registry: Registry, plan: Scheme, *, user: str, origin: str,
                departments: Mapping | None) -> ImportResult:
    from jxcore.engine import scheme_digest

    found = versions(store, plan.name, plan.period.year)
    digest = scheme_digest(plan)
    current = [x for x in found if x.state is State.PUBLISHED] or found
    if current and current[-1].digest == digest:
        return ImportResult(current[-1], False, "unchanged")
    same = [x for x in found if x.digest == digest and x.state is not State.SUPERSEDED]
    if same:
        return ImportResult(same[-1], False, f"already stored as {same[-1].label} ({same[-1].state.value})")
    if not found:
        version = _store_new(store, plan, user=user, origin=origin, departments=departments, parent=None,
                             state=State.PUBLISHED, reason=f"the plan in force, imported from {origin}")
        return ImportResult(version, True, "published: the record of the plan in force")
    version = _store_new(store, plan, user=user, origin=origin, departments=departments, parent=current[-1])
    return ImportResult(version, True, f"differs from {current[-1].label} ({current[-1].state.value}): "
                                       "stored as a draft, it needs the bureau meeting's approval")


def import_file(store: Store, registry: Registry, scheme: str, path: Path | str, *, user: str,
                shown: str | None = None) -> PlanVersion:
    """A plan file (as plans/<year>.yaml) as a new draft of its period, checked as ``jx validate``
    checks it; it revises the period's open draft (superseded) or follows the published version.
    ``shown``: the file's name in messages (default its path), e.g. an uploaded file's own name."""
    from jxcore.scheme.yamlio import read_yaml

    path = Path(path)
    shown = shown or str(path)
    data, problems = read_yaml(path, shown, "give the path of a plan file such as plans/2011.yaml")
    if problems:
        raise SchemeError.from_problems(f"plan file {shown} cannot be read", problems)
    if not isinstance(data, Mapping):
        raise SchemeError.from_problems(f"plan file {shown} is invalid", [Problem(
            "a plan must be a mapping (key: value lines: period, nodes …)",
            Location(file=shown, line=getattr(data, "line", None)), "see docs/scheme-format.md")])
    period = data.get("period")
    if not isinstance(period, int) or isinstance(period, bool):
        raise SchemeError.from_problems(f"plan file {shown} is invalid", [Problem(
            "missing field 'period' (the plan's year)", Location(file=shown, line=getattr(data, "line", None)),
            "add period: 2011 at the top of the plan")])
    plan = _build(registry, scheme, data, file=shown, period=period)
    _allowed(store, user, PlanAction.DRAFT, scheme=plan.name, period=period, target=f"{period} (new)", plan=plan)
    written = data.get("departments")
    departments = {str(k): str(v) for k, v in written.items()} if isinstance(written, Mapping) else None
    found = versions(store, plan.name, period)
    return _store_new(store, plan, user=user, origin=f"file {Path(shown).name}", departments=departments,
                      parent=found[-1] if found else None)


# ---------------------------------------------------------------------------------------------
# Editing a draft (the browser's plan editor)


def editable(version: PlanVersion) -> dict[str, Any]:
    """The version as the plan file's mapping (``plans/<year>.yaml``: nested nodes, full rules and
    collectors, departments, outputs, settings) in JSON: dates as ``{"$date": "2011-06-30"}``. What
    the plan editor edits and :func:`check_data` / :func:`save_draft` take back."""
    from jxcore.scheme.document import _plain
    from jxcore.scheme.export import plan_data

    return _plain(plan_data(version.document, version.departments))


def _from_json(value: Any) -> Any:
    """JSON back to what a plan file holds: ``{"$date": …}`` to dates (a wrong date stays text, so
    the checks report it where it is)."""
    if isinstance(value, Mapping):
        if set(value) == {"$date"}:
            try:
                return dt.date.fromisoformat(str(value["$date"]))
            except ValueError:
                return value["$date"]
        return {str(k): _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _edited(version: PlanVersion, document: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise SchemeError(f"the edited plan {version.label} is not JSON: {exc}",
                              hint="send the document the editor gives (GET /api/plans/REF)") from None
    if not isinstance(document, Mapping):
        raise SchemeError(f"the edited plan {version.label} must be a mapping (period, code, nodes …)",
                          hint="send the document the editor gives (GET /api/plans/REF)")
    return _from_json(document)


def _build_edited(registry: Registry, version: PlanVersion, data: Mapping[str, Any]) -> Scheme:
    """``data`` checked as ``jx validate`` checks a plan file, and kept in the version's year."""
    file = f"<{version.scheme} {version.label} edited>"
    period = data.get("period")
    if period != version.period:
        raise SchemeError.from_problems(f"plan {file} of scheme {version.scheme} is invalid", [Problem(
            f"'period' must stay {version.period}, not {period!r}", Location(file=file, node=str(data.get("code") or "")
                                                                            or None),
            f"a plan of another year is a new version: jx plan new YEAR --from {version.label}")])
    return _build(registry, version.scheme, data, file=file, period=version.period)


def check_data(registry: Registry, version: PlanVersion, document: Mapping[str, Any] | str) -> list[Problem]:
    """Every problem ``jx validate`` would report for an edited ``document`` of ``version`` (as
    :func:`editable` gives it), each with its node code; [] when it is a valid plan. Stores nothing."""
    try:
        _build_edited(registry, version, _edited(version, document))
    except JxError as exc:
        return list(exc.problems)
    return []


def check_editable(store: Store, version: PlanVersion, *, user: str) -> PlanVersion:
    """``version`` as it is now, if ``user`` may edit it: only a draft is edited (LockedError
    otherwise: a published plan is frozen, a plan in consultation is revised as a new draft), and
    only by the drafting department or an admin (AccessDenied, logged)."""
    now = _by_id(store, version.id)
    if now.state is not State.DRAFT:
        newer = [x.label for x in versions(store, now.scheme, now.period) if x.parent_id == now.id]
        why = {State.PUBLISHED: "a published plan is frozen: it changes only by a new version the bureau meeting "
                                "approves",
               State.APPROVED: "an approved plan is frozen until it is published",
               State.CONSULTATION: "it is out to the branches for comments; revise it as a new draft",
               State.SUPERSEDED: "it was replaced" + (f" by {', '.join(newer)}" if newer else "")}[now.state]
        raise LockedError(f"plan {now.label} is {now.state.value}, not a draft: {why}",
                          hint=f"start a new draft from it (jx plan new {now.period} --from {now.label}, or "
                               "修订 on its page) and edit that")
    _allowed(store, user, PlanAction.DRAFT, scheme=now.scheme, period=now.period, target=now.label, plan=now.plan())
    return now


def save_draft(store: Store, registry: Registry, version: PlanVersion, document: Mapping[str, Any] | str, *,
               user: str, note: str | None = None) -> PlanVersion:
    """Save an edited draft (the editor's document, see :func:`editable`): checked as ``jx validate``
    checks a plan (SchemeError with every problem and its node), then stored as the next version of
    the year, revising ``version`` (which becomes superseded), made by ``user`` now, with ``note``
    as the reason on its record. Versions never change, so every save is on the record.

    Only a draft is saved, and only by the drafting department or an admin (:func:`check_editable`),
    checked again inside the writing transaction: a draft another user saved (or submitted) in the
    meantime is refused, not overwritten. An unchanged document stores nothing and returns ``version``."""
    from jxcore.scheme.document import digest, dumps

    current = check_editable(store, version, user=user)
    data = _edited(current, document)
    plan = _build_edited(registry, current, data)
    text = dumps(plan)
    written = data.get("departments")
    departments = ({str(k): str(v) for k, v in written.items()} if isinstance(written, Mapping)
                   else current.departments)
    if digest(text) == current.digest and departments == current.departments:
        return current

    def write(tx: Any) -> int:
        ledger.lock_writers(tx.connection)
        now = _read(tx.connection, plan_versions.c.id == current.id)[0]  # as of this transaction
        if now.state is not State.DRAFT:
            raise LockedError(f"plan {now.label} became {now.state.value} while it was edited: nothing was saved",
                              hint="open the newest version and make the change there")
        return _insert_version(tx, scheme=plan, document=text, digest=digest(text), departments=departments,
                               parent=now, origin=f"edited from {now.label}", user=user, state=State.DRAFT,
                               reason=(note or "").strip() or f"edited from {now.label}")

    saved = _by_id(store, store.write(write))
    _log_allowed(store, user, PlanAction.DRAFT, f"plan {current.label} edited as {saved.label}", saved)
    return saved


def renumber(document: str | Mapping[str, Any], year: int) -> dict[str, Any]:
    """A plan document moved to another year: the period, stage dates and the dates in rule and
    collector parameters (dates, dates and the year written in text such as SQL, integers equal to
    the old year, e.g. ``where: {year: 2010}``) shifted by the years between (29 February becomes the 28th),
    and the year in the root's name and code. ``jx plan diff`` shows every parameter it moved."""
    doc = json.loads(document) if isinstance(document, str) else json.loads(json.dumps(document))
    old = doc["period"][0]
    shift = year - old

    def moved(day: str) -> str:
        d = dt.date.fromisoformat(day)
        try:
            return d.replace(year=d.year + shift).isoformat()
        except ValueError:  # 29 February into a common year
            return d.replace(year=d.year + shift, day=28).isoformat()

    written = re.compile(rf"\b{old}(-[01][0-9]-[0-3][0-9])\b")
    bare = re.compile(rf"\b{old}\b")

    def dates(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$date"}:
                return {"$date": moved(value["$date"])}
            return {k: dates(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dates(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and value == old:
            return year  # a filter such as where: {year: 2010}
        if isinstance(value, str):  # SQL text: submitted_on <= DATE '2010-06-30', pl.year = 2010
            return bare.sub(str(year), written.sub(lambda m: moved(f"{old}{m.group(1)}"), value))
        return value

    doc["period"] = [year, f"{year}-01-01", f"{year}-12-31"]
    for node in doc["nodes"]:
        node["stages"] = [[moved(d), target] for d, target in node["stages"]]
        for key in ("rule", "collector"):
            if node[key] is not None:
                node[key] = [node[key][0], dates(node[key][1])]
        if node["code"] == doc["root"]:
            node["name"] = node["name"].replace(str(old), str(year))
    root = doc["root"].replace(str(old), str(year))  # GD2010 → GD2011
    if root != doc["root"]:
        for node in doc["nodes"]:
            node["code"] = root if node["code"] == doc["root"] else node["code"]
            node["parent"] = root if node["parent"] == doc["root"] else node["parent"]
        doc["root"] = root
    return doc


def new_version(store: Store, registry: Registry, scheme: str, period: int, *, source: str | int,
                user: str) -> PlanVersion:
    """A new draft for ``period`` from another version (``2010``, ``2010v3``): a new year's plan
    renumbered from last year's (``jx plan new 2011 --from 2010``), or a mid-year change to the plan in
    force. A bare year the store has no version of is the installed pack's plan of that year.
    Checked against the installed pack (its units and plugins) before it is stored."""
    from jxcore.scheme.document import dumps
    from jxcore.scheme.export import plan_data
    from jxcore.services.schemes import open_scheme, pack_path

    name = _pack(registry, scheme).name
    source_period, number = parse_ref(str(source))
    base: PlanVersion | None = None
    departments: Mapping[str, str] | None
    if number is None and not versions(store, name, source_period):
        document = dumps(open_scheme(registry, scheme, source_period))
        departments, label = _departments_of(pack_path(registry, scheme), source_period), f"plans/{source_period}.yaml"
    else:
        base = get_version(store, name, source_period, number)
        document, departments, label = base.document, base.departments, base.label
    doc = renumber(document, period) if source_period != period else json.loads(document)
    plan = _build(registry, scheme, plan_data(doc, departments), file=f"<{name} {period} from {label}>", period=period)
    _allowed(store, user, PlanAction.DRAFT, scheme=name, period=period, target=f"{period} (new)", plan=plan)
    parent = base if source_period == period else None
    return _store_new(store, plan, user=user, origin=f"from {label}", departments=departments, parent=parent)


def _move(store: Store, version: PlanVersion, new: State, action: PlanAction, *, user: str,
          reason: str | None, meeting: str | None = None, minutes_ref: str | None = None) -> PlanVersion:
    _allowed(store, user, action, scheme=version.scheme, period=version.period, target=version.label,
             plan=version.plan())

    def write(tx: Any) -> None:
        ledger.lock_writers(tx.connection)
        now = _read(tx.connection, plan_versions.c.id == version.id)[0]  # the state as of this transaction
        if new not in _NEXT[now.state]:
            allowed = ", ".join(s.value for s in _NEXT[now.state]) or "nothing"
            raise UsageError(f"plan {now.label} is {now.state.value}: it cannot become {new.value}",
                             hint=f"from {now.state.value} a plan goes to: {allowed}")
        if new is State.PUBLISHED:
            v = plan_versions.c
            for other in _read(tx.connection, v.scheme == now.scheme, v.period == now.period, v.id != now.id):
                if other.state is State.PUBLISHED:
                    _transition(tx.connection, other.id, other.state, State.SUPERSEDED, user,
                                f"superseded by {now.label}")
        _transition(tx.connection, now.id, now.state, new, user, reason, meeting, minutes_ref)

    store.write(write)
    _log_allowed(store, user, action, f"plan {version.label} → {new.value}" + (f": {reason}" if reason else ""),
                 version)
    return _by_id(store, version.id)


def submit(store: Store, version: PlanVersion, *, user: str, reason: str | None = None) -> PlanVersion:
    """Send a draft to the branches for comments (征求意见)."""
    return _move(store, version, State.CONSULTATION, PlanAction.SUBMIT, user=user,
                 reason=reason or "sent to the branches for comments")


def approve(store: Store, version: PlanVersion, *, user: str, meeting: str, minutes_ref: str,
            reason: str | None = None) -> PlanVersion:
    """The bureau meeting's approval, with the meeting and its minutes' reference (both required).

    A draft is approved only if it, or a version it revises, went out for comments: a plan is not
    rushed without consultation; a comment still unanswered also stops it. The versions it revises
    are its parent, the parent's parent … (browser saves and revisions after the comments), up to
    the first one that was ever approved or published: an earlier plan's consultation does not
    cover a later change to it."""
    if not (meeting or "").strip() or not (minutes_ref or "").strip():
        raise UsageError(f"approving plan {version.label} needs the bureau meeting and its minutes' reference",
                         hint='give --meeting "2011年第2次局务会议" --minutes "会议纪要〔2011〕2号"')
    _allowed(store, user, PlanAction.APPROVE, scheme=version.scheme, period=version.period, target=version.label,
             plan=version.plan())
    records = _revision_line(store, version)
    if not any(t.to_state is State.CONSULTATION for r in records for t in r.transitions):
        raise UsageError(f"plan {version.label} was never sent to the branches for comments",
                         hint=f"submit it first (jx plan submit {version.label}): a plan is not approved "
                              "without consultation")
    open_comments = [c for r in records for c in r.unanswered()]
    if open_comments:
        shown = ", ".join(f"#{c.id} ({c.node})" for c in open_comments[:5])
        raise UsageError(f"plan {version.label} has unanswered comments: {shown}",
                         hint="the drafting section answers every comment first (jx plan answer)")
    return _move(store, version, State.APPROVED, PlanAction.APPROVE, user=user, reason=reason,
                 meeting=meeting.strip(), minutes_ref=minutes_ref.strip())


def _revision_line(store: Store, version: PlanVersion) -> list[Record]:
    """The records of ``version`` and the versions it revises, back to (not including) the first
    one that was ever approved or published."""
    line = [record(store, version)]
    seen = {version.id}
    cursor = version
    while cursor.parent_id is not None and cursor.parent_id not in seen:
        parent = _by_id(store, cursor.parent_id)
        found = record(store, parent)
        if parent.period != version.period or any(
                t.to_state in (State.APPROVED, State.PUBLISHED) for t in found.transitions):
            break
        line.append(found)
        seen.add(parent.id)
        cursor = parent
    return line


def publish(store: Store, version: PlanVersion, *, user: str, reason: str | None = None) -> PlanVersion:
    """Put an approved version in force; the period's published version is superseded."""
    return _move(store, version, State.PUBLISHED, PlanAction.PUBLISH, user=user, reason=reason or "published")


def comment(store: Store, version: PlanVersion, node: str, text: str, *, user: str) -> Comment:
    """A branch's comment on a node (the plan's root code: on the whole plan) while in consultation."""
    if version.state is not State.CONSULTATION:
        raise UsageError(f"plan {version.label} is {version.state.value}, not out for comments",
                         hint="branches comment while a draft is in consultation (jx plan submit)")
    plan = version.plan()
    if node not in plan.nodes:
        import difflib

        close = difflib.get_close_matches(node, list(plan.nodes), n=3)
        raise UsageError(f"plan {version.label} has no node {node!r}",
                         hint=("did you mean " + " or ".join(close) + "?") if close else "see jx plan show")
    unit = _allowed(store, user, PlanAction.COMMENT, scheme=version.scheme, period=version.period,
                    target=version.label, plan=plan)
    return _add_comment(store, version, node, unit, None, text, user)


def answer(store: Store, version: PlanVersion, comment_id: int, text: str, *, user: str) -> Comment:
    """The drafting section's answer to a comment (part of the record)."""
    asked = [c for c in record(store, version).comments if c.id == comment_id and c.answers is None]
    if not asked:
        raise UsageError(f"plan {version.label} has no comment #{comment_id}", hint="see jx plan show")
    _allowed(store, user, PlanAction.ANSWER, scheme=version.scheme, period=version.period, target=version.label,
             plan=version.plan())
    return _add_comment(store, version, asked[0].node, None, comment_id, text, user)


def _add_comment(store: Store, version: PlanVersion, node: str, unit: str | None, answers: int | None,
                 text: str, user: str) -> Comment:
    if not text.strip():
        raise UsageError("the comment is empty", hint="write what should change and why")
    def write(tx: Any) -> int:
        new_id = tx.connection.execute(plan_comments.insert(), {
            "version_id": version.id, "node_code": node, "unit_code": unit, "answers": answers,
            "by_user": user, "at": _now(), "text": text.strip()}).inserted_primary_key[0]
        ledger.append_where(tx.connection, "plan_comments", sa.column("id") == new_id)
        return new_id

    new_id = store.write(write)
    return next(x for x in record(store, version).comments if x.id == new_id)


# ---------------------------------------------------------------------------------------------
# Export and running


def export_yaml(version: PlanVersion) -> str:
    """The version as plans/<year>.yaml text: loaded in its pack it has the version's digest."""
    from jxcore.scheme.export import plan_yaml

    return plan_yaml(version.document, version.departments)


def export_pack(version: PlanVersion, directory: Path | str) -> Path:
    """The version as a whole pack directory (scheme.yaml, units.yaml, plans/<year>.yaml)."""
    from jxcore.scheme.export import export_pack as write

    return write(version.document, directory, version.departments)


def runnable(registry: Registry | None, version: PlanVersion) -> Scheme:
    """The version's plan, with the installed pack's path and source URLs (a stored plan keeps
    them masked), so it can be scored."""
    from jxcore.services.schemes import installed_plan

    plan = version.plan()
    installed = installed_plan(registry, plan.name, None) if registry is not None else None
    if installed is None:
        return plan
    return attrs.evolve(plan, path=installed.path, sources={
        **plan.sources, **{k: s for k, s in installed.sources.items() if k in plan.sources}})


def plan_for(store: Store, registry: Registry, scheme: str, ref: str | int) -> tuple[Scheme, PlanVersion | None]:
    """The plan a reference names: a stored version (``2010``, ``2010v3``), else for a bare year the
    installed pack's plan (version None)."""
    from jxcore.services.schemes import open_scheme

    period, number = parse_ref(str(ref))
    name = _pack(registry, scheme).name
    if number is None and not versions(store, name, period):
        return open_scheme(registry, scheme, period), None
    version = get_version(store, name, period, number)
    return runnable(registry, version), version


def check_document(registry: Registry, version: PlanVersion) -> list[Problem]:
    """The problems ``jx validate`` would report for the version today (plugins may have changed)."""
    from jxcore.scheme.export import plan_data

    try:
        _build(registry, version.scheme, plan_data(version.document, version.departments),
               file=f"<{version.scheme} {version.label}>", period=version.period)
    except JxError as exc:
        return list(exc.problems)
    return []


def run_version(store: Store, registry: Registry, version: PlanVersion, *, as_of: dt.date | None = None,
                final: bool = False, actor: str | None = None, console: Any = None) -> Any:
    """Score with a published version (e.g. a mid-year change in force) and store the run; its
    ``scheme_digest`` is the version's digest. Other states: UsageError."""
    from jxcore.services.runs import run

    if version.state is not State.PUBLISHED:
        raise UsageError(f"plan {version.label} is {version.state.value}: runs score with the published plan",
                         hint="approve and publish it first, or see it beside the plan in force with jx plan whatif")
    return run(store, registry, runnable(registry, version), as_of=as_of, final=final, actor=actor,
               console=console)


def pack_name(registry: Registry, scheme: str) -> str:
    """The scheme name of an installed pack's name or a pack directory."""
    return _pack(registry, scheme).name
