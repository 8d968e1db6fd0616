"""Request templates: named, versioned presets of a module's inputs, per module and environment.

A template holds ``defaults`` (inputs filled in for the user), ``locked`` fields (their value is
the template's and cannot be overridden), ``allowed_overrides`` (when given, the only inputs a
user may set), and optionally a pinned ``environment`` and ``project``. Templates live in the
store's keyed records (namespace ``templates``, one record per template holding every version),
are managed by admins, and are used with ``tfpilot requests create --template NAME``.

A request records the template's name and version (``Placement.template_id`` and
``template_version``). Updating a template adds a version and never touches existing requests;
:meth:`Templates.diff` lists the requests made from older versions. A retired template cannot be
used any more.
"""

from __future__ import annotations

import builtins
import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.catalog.types import coerce_into
from tfpilot_core.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldProblem,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from tfpilot_core.models import RequestQuery, Role, utcnow

if TYPE_CHECKING:
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import Request

#: The keyed-record namespace of templates.
NAMESPACE = "templates"
#: Template names: as request-friendly as module codes.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,62}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Template(_Model):
    """One version of a template."""

    name: str
    version: int = Field(ge=1)
    module: str
    description: str = ""
    #: Only requests in this environment may use the template (``None``: any).
    environment: str | None = None
    #: Only requests of this project may use the template (``None``: any).
    project: str | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    #: Inputs whose value is the template's (its default, else the module's) and is never
    #: overridden.
    locked: list[str] = Field(default_factory=list)
    #: When given, the only inputs a user may set (``None``: any input that is not locked).
    allowed_overrides: list[str] | None = None
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class TemplateRecord(_Model):
    """A template with every version, as stored; the last version is the current one."""

    name: str
    versions: list[Template]
    retired: bool = False
    retired_by: str | None = None
    retired_at: datetime | None = None

    @property
    def current(self) -> Template:
        """The newest version."""
        return self.versions[-1]


def _problem(field: str, rule: str, message: str) -> ValidationError:
    return ValidationError([FieldProblem(field, rule, message)], subject="template")


def apply(
    template: Template,
    inputs: Mapping[str, Any],
    *,
    environment: str | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """The inputs of a request made from ``template``: its defaults, the user's inputs over them.

    :raises ValidationError: naming the field, when a locked field or an input outside
        ``allowed_overrides`` is given, or the environment or project is not the pinned one.
    """
    label = f"template {template.name} v{template.version}"
    if template.environment is not None and environment not in (None, template.environment):
        raise _problem(
            "environment",
            "template_pinned",
            f"{label} is for environment {template.environment}, not {environment}",
        )
    if template.project is not None and project not in (None, template.project):
        raise _problem(
            "project",
            "template_pinned",
            f"{label} is for project {template.project}, not {project}",
        )
    problems = []
    for name in sorted(inputs):
        if name in template.locked:
            problems.append(
                FieldProblem(f"inputs.{name}", "locked", f"is locked by {label}: it cannot be set")
            )
        elif template.allowed_overrides is not None and name not in template.allowed_overrides:
            allowed = ", ".join(template.allowed_overrides) or "none"
            problems.append(
                FieldProblem(
                    f"inputs.{name}",
                    "not_overridable",
                    f"{label} does not allow setting it (allowed overrides: {allowed})",
                )
            )
    if problems:
        raise ValidationError(problems, subject="template")
    return {**template.defaults, **dict(inputs)}


def overridable(template: Template, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The part of ``inputs`` that ``template`` lets a user set, and the names it drops.

    Used by promotion: a value carried over from the source environment gives way to the target
    environment's template instead of refusing the promotion.
    """
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in inputs.items():
        if name in template.locked or (
            template.allowed_overrides is not None and name not in template.allowed_overrides
        ):
            dropped.append(name)
        else:
            kept[name] = value
    return kept, sorted(dropped)


class Templates:
    """Templates in the platform's store; writes need the admin role."""

    def __init__(self, platform: SupportsKernel) -> None:
        self.kernel = platform.kernel

    # -- reading ------------------------------------------------------------------------------

    def record(self, name: str) -> TemplateRecord:
        """The stored template ``name`` with every version; :class:`NotFoundError` if none."""
        _check_name(name)
        found = self.kernel.store.get_record(NAMESPACE, name)
        if found is None:
            raise NotFoundError(f"template {name!r} does not exist")
        return TemplateRecord.model_validate(found.value)

    def get(self, name: str, version: int | None = None) -> Template:
        """Version ``version`` of template ``name`` (the current one by default)."""
        record = self.record(name)
        if version is None:
            return record.current
        for template in record.versions:
            if template.version == version:
                return template
        raise NotFoundError(f"template {name!r} has no version {version}")

    def list(
        self,
        *,
        module: str | None = None,
        environment: str | None = None,
        include_retired: bool = False,
    ) -> builtins.list[TemplateRecord]:
        """Templates, by name (current versions matching ``module``/``environment``)."""
        found = []
        for raw in self.kernel.store.list_records(NAMESPACE):
            record = TemplateRecord.model_validate(raw.value)
            current = record.current
            if record.retired and not include_retired:
                continue
            if module is not None and current.module != module:
                continue
            if environment is not None and current.environment not in (None, environment):
                continue
            found.append(record)
        return found

    def usable(self, name: str, *, module: str) -> Template:
        """The current version of ``name`` for a new request of ``module``.

        :raises ForbiddenError: the template is retired.
        :raises ValidationError: it is a template of another module.
        """
        record = self.record(name)
        if record.retired:
            raise ForbiddenError(
                f"template {name!r} was retired by {record.retired_by}: it cannot be used"
            )
        current = record.current
        if current.module != module:
            raise _problem(
                "template",
                "module",
                f"template {name} is for module {current.module}, not {module}",
            )
        return current

    def for_create(
        self,
        name: str,
        *,
        module: str,
        environment: str,
        project: str,
        inputs: Mapping[str, Any],
    ) -> tuple[dict[str, Any], int]:
        """What :meth:`Platform.create` uses: the template applied, and the version applied."""
        template = self.usable(name, module=module)
        return (
            apply(template, inputs, environment=environment, project=project),
            template.version,
        )

    def check_update(self, request: Request, inputs: Mapping[str, Any]) -> None:
        """Refuse an update of a templated request that sets a locked or non-overridable field.

        The version the request was made from decides (a later version never changes an
        existing request). A template that no longer exists binds nothing.
        """
        name, version = request_template(request)
        if name is None:
            return
        try:
            template = self.get(name, version)
        except NotFoundError:
            return
        apply(template, inputs)

    def diff(self, name: str, actor: str | None = None) -> dict[str, Any]:
        """The current version, and the requests made from older versions (oldest version first).

        With ``actor``, only the requests ``actor`` may read are listed.
        """
        record = self.record(name)
        current = record.current.version
        older: list[dict[str, Any]] = []
        cursor: str | None = None

        while True:
            page = self.kernel.store.list_requests(
                RequestQuery(module=record.current.module, limit=1000, cursor=cursor)
            )
            items = page.items
            if actor is not None:
                items = self.kernel.access.readable(actor, items)
            for request in items:
                placement = request.placement
                version = getattr(placement, "template_version", None)
                if placement.template_id == name and (version or 0) < current:
                    older.append(
                        {
                            "request": request.id,
                            "environment": placement.environment,
                            "project": placement.project,
                            "template_version": version,
                            "status": self.kernel.status(request).value,
                        }
                    )
            cursor = page.next_cursor
            if cursor is None:
                break
        older.sort(key=lambda r: (r["template_version"] or 0, r["request"]))
        changes = _version_changes(record.versions)
        return {"template": name, "current_version": current, "changes": changes, "older": older}

    # -- writing (admins) ---------------------------------------------------------------------

    def create(
        self,
        actor: str,
        name: str,
        *,
        module: str,
        description: str = "",
        environment: str | None = None,
        project: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        locked: Sequence[str] = (),
        allowed_overrides: Sequence[str] | None = None,
    ) -> Template:
        """Create template ``name`` at version 1 (:class:`AlreadyExistsError` if it exists)."""
        self._admin(actor, "create")
        _check_name(name)
        template = self._validated(
            Template(
                name=name,
                version=1,
                module=module,
                description=description,
                environment=environment,
                project=project,
                defaults=dict(defaults or {}),
                locked=list(locked),
                allowed_overrides=None if allowed_overrides is None else list(allowed_overrides),
                created_by=actor,
                created_at=self.kernel.now(),
            )
        )
        record = TemplateRecord(name=name, versions=[template])
        try:
            self.kernel.store.put_record(
                NAMESPACE, name, record.model_dump(mode="json"), expected_version=None
            )
        except (AlreadyExistsError, ConflictError):
            raise AlreadyExistsError(
                f"template {name!r} already exists: use templates update"
            ) from None
        return template

    def update(self, actor: str, name: str, **changes: Any) -> Template:
        """A new version of ``name`` with ``changes`` (fields of :class:`Template`) applied.

        Requests made from earlier versions keep the inputs and version they recorded.
        """
        self._admin(actor, "update")
        allowed = {
            "description",
            "environment",
            "project",
            "defaults",
            "locked",
            "allowed_overrides",
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise _problem(unknown[0], "unknown", f"cannot change {unknown[0]} of a template")
        for _attempt in range(10):
            stored = self.kernel.store.get_record(NAMESPACE, _check_name(name))
            if stored is None:
                raise NotFoundError(f"template {name!r} does not exist")
            record = TemplateRecord.model_validate(stored.value)
            if record.retired:
                raise ForbiddenError(f"template {name!r} is retired: it cannot be updated")
            new = self._validated(
                record.current.model_copy(
                    update={
                        **changes,
                        "version": record.current.version + 1,
                        "created_by": actor,
                        "created_at": self.kernel.now(),
                    }
                )
            )
            record.versions.append(new)
            try:
                self.kernel.store.put_record(
                    NAMESPACE,
                    name,
                    record.model_dump(mode="json"),
                    expected_version=stored.version,
                )
            except ConflictError:
                continue
            return new
        raise ConflictError(f"template {name!r} is being changed by others; retry")

    def retire(self, actor: str, name: str) -> TemplateRecord:
        """Retire ``name``: new requests cannot use it; existing requests are unchanged."""
        self._admin(actor, "retire")
        stored = self.kernel.store.get_record(NAMESPACE, _check_name(name))
        if stored is None:
            raise NotFoundError(f"template {name!r} does not exist")
        record = TemplateRecord.model_validate(stored.value)
        if record.retired:
            return record
        record.retired = True
        record.retired_by = actor
        record.retired_at = self.kernel.now()
        self.kernel.store.put_record(
            NAMESPACE, name, record.model_dump(mode="json"), expected_version=stored.version
        )
        return record

    def _admin(self, actor: str, verb: str) -> None:
        role = self.kernel.config.role_of(actor)
        if role.rank < Role.ADMIN.rank:
            raise ForbiddenError(
                f"{actor} ({role.value}) may not {verb} templates: needs role admin"
            )

    def _validated(self, template: Template) -> Template:
        """Check a template against its module: known inputs, valid defaults, known environment."""

        spec = self.kernel.catalog.get(template.module)
        if template.environment is not None:
            self.kernel.environment(template.environment)
        problems: list[FieldProblem] = []
        named = [
            *(("defaults", n) for n in template.defaults),
            *(("locked", n) for n in template.locked),
            *(("allowed_overrides", n) for n in template.allowed_overrides or []),
        ]
        for where, name in named:
            if name not in spec.inputs:
                problems.append(
                    FieldProblem(f"{where}.{name}", "unknown", f"{spec.name} has no input {name!r}")
                )
        for name, value in template.defaults.items():
            item = spec.inputs.get(name)
            if item is None:
                continue
            if item.read_only:
                problems.append(
                    FieldProblem(f"defaults.{name}", "read_only", "a read-only input cannot be set")
                )
            if item.sensitive:
                # Templates are shown to everyone who may request; a secret has no place there.
                problems.append(
                    FieldProblem(
                        f"defaults.{name}",
                        "sensitive",
                        "a sensitive input cannot have a template default (it would be shown)",
                    )
                )
            coerce_into(value, item.tftype, f"defaults.{name}", problems)
        overlap = set(template.locked) & set(template.allowed_overrides or [])
        if overlap:
            name = sorted(overlap)[0]
            problems.append(
                FieldProblem(
                    f"allowed_overrides.{name}", "locked", "a locked field cannot be overridable"
                )
            )
        if problems:
            raise ValidationError(problems, subject=f"template {template.name}")
        return template


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise _problem(
            "template",
            "name",
            f"{str(name)[:70]!r} is not a template name: use 1-63 lowercase letters, digits and "
            "hyphens, starting with a letter",
        )
    return name


def _version_changes(versions: Sequence[Template]) -> list[dict[str, Any]]:
    """What changed from each version to the next (field -> [before, after])."""
    changes = []
    fields = ("environment", "project", "defaults", "locked", "allowed_overrides", "description")
    for before, after in itertools.pairwise(versions):
        changed = {
            f: [getattr(before, f), getattr(after, f)]
            for f in fields
            if getattr(before, f) != getattr(after, f)
        }
        changes.append({"from": before.version, "to": after.version, "changed": changed})
    return changes


def request_template(request: Request) -> tuple[str | None, int | None]:
    """The template name and version a request recorded."""
    return request.placement.template_id, getattr(request.placement, "template_version", None)


__all__ = [
    "NAMESPACE",
    "Template",
    "TemplateRecord",
    "Templates",
    "apply",
    "overridable",
    "request_template",
]
