"""The permission matrix, generated from what is declared on the fields (docs/permissions.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ..auth.permissions import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Perm, Role
from .permissions import Authenticated, Sensitive, _AnyOf, _Requires

FULL, MASKED, DENIED = "yes", "masked", "no"


@dataclass
class Rule:
    type_name: str
    field_name: str
    full: tuple[Perm, ...]  # any of these reads it in full
    masked: Perm | None = None
    authenticated_only: bool = False

    def outcome(self, perms: frozenset[Perm], signed_in: bool = True) -> str:
        if self.authenticated_only:
            return FULL if signed_in else DENIED
        if any(p in perms for p in self.full):
            return FULL
        if self.masked is not None and self.masked in perms:
            return MASKED
        return DENIED

    @property
    def requirement(self) -> str:
        if self.authenticated_only:
            return "signed in"
        text = " or ".join(p.value for p in self.full)
        return text + (f" (masked with {self.masked.value})" if self.masked else "")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def rules(types: list[tuple[type, str]]) -> list[Rule]:
    """Every field of these (strawberry type, GraphQL name) pairs that declares a permission
    class or a Sensitive rule."""
    out: list[Rule] = []
    for t, type_name in types:
        for f in t.__strawberry_definition__.fields:
            name = f.graphql_name or _camel(f.python_name)
            for ext in f.extensions:
                if isinstance(ext, Sensitive):
                    out.append(Rule(type_name, name, (ext.full,), ext.masked))
            for cls in f.permission_classes:
                if issubclass(cls, _Requires):
                    out.append(Rule(type_name, name, (cls.perm,)))
                elif issubclass(cls, _AnyOf):
                    out.append(Rule(type_name, name, tuple(cls.perms)))
                elif issubclass(cls, Authenticated):
                    out.append(Rule(type_name, name, (), authenticated_only=True))
    return sorted(
        out,
        key=lambda r: (
            r.type_name != "Query",
            r.type_name != "Mutation",
            r.type_name,
            r.field_name,
        ),
    )


def markdown(types: list[tuple[type, str]]) -> str:
    roles = list(Role)
    head = ["field", "requires", *[r.value for r in roles], "integrator scopes"]
    lines = [
        "# Permission matrix",
        "",
        "Generated from the declarations on the GraphQL fields by `turnout permissions doc`;",
        "a test fails when this file and the code disagree. `yes`: the field resolves;",
        "`masked`: it resolves masked (`138****5678`, `z***@example.com`, `****`);",
        "`no`: it is null with a `forbidden` error (a denied root field denies its subtree).",
        "",
        "Row-level rules on top of the table: an interviewer (without `interviews.read`) sees",
        "only the interviews assigned to them, and only the candidates of those interviews;",
        "a vendor operator has no tenant: every tenant field is denied. Integrator scopes map",
        "to permissions in `platform/turnout/auth/permissions.py` (`SCOPE_PERMISSIONS`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for rule in rules(types):
        cells = [rule.outcome(ROLE_PERMISSIONS[r]) for r in roles]
        scopes = []
        for scope, perms in sorted(SCOPE_PERMISSIONS.items()):
            outcome = rule.outcome(perms)
            if outcome != DENIED:
                scopes.append(scope + (" (masked)" if outcome == MASKED else ""))
        lines.append(
            f"| `{rule.type_name}.{rule.field_name}` | {rule.requirement} | "
            + " | ".join(cells)
            + f" | {', '.join(scopes) or '—'} |"
        )
    lines += ["", "## Roles and scopes", "", "| role or scope | permissions |", "|---|---|"]
    lines += [
        f"| {r.value} | {', '.join(sorted(p.value for p in ROLE_PERMISSIONS[r]))} |" for r in roles
    ]
    lines += [
        f"| scope `{s}` | {', '.join(sorted(p.value for p in perms))} |"
        for s, perms in sorted(SCOPE_PERMISSIONS.items())
    ]
    return "\n".join(lines) + "\n"
