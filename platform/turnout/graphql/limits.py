"""Query limits (depth, aliases, tokens, cost), CSRF for cookie-authenticated mutations,
and which errors survive masking in production."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_operation_ast,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.types.graphql import OperationType

from ..config import Settings

LIST_DEFAULT = 20  # a list field without `first` is costed at the default page size


@cache
def cost_rule(max_cost: int) -> type[ValidationRule]:
    """Cost: 1 per field, times the page size (`first`/`last`) of every list above it."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
            fragments = {
                f.name.value: f
                for f in self.context.document.definitions
                if f.kind == "fragment_definition"
            }
            cost = _selection_cost(node.selection_set, fragments, 1, set())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"query cost {cost} exceeds the limit of {max_cost}; ask for fewer rows "
                        "or fields",
                        node,
                    )
                )

    return CostLimit


def _selection_cost(
    sel: SelectionSetNode | None, fragments: dict, factor: int, seen: set[str]
) -> int:
    if sel is None:
        return 0
    total = 0
    for node in sel.selections:
        if isinstance(node, FieldNode):
            total += factor
            size = _page_arg(node)
            total += _selection_cost(node.selection_set, fragments, factor * size, seen)
        elif isinstance(node, InlineFragmentNode):
            total += _selection_cost(node.selection_set, fragments, factor, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            frag = fragments.get(node.name.value)
            if frag is not None:  # unknown fragments are another rule's error
                total += _selection_cost(
                    frag.selection_set, fragments, factor, seen | {node.name.value}
                )
    return total


def _page_arg(node: FieldNode) -> int:
    for arg in node.arguments or ():
        if arg.name.value in ("first", "last"):
            return int(arg.value.value) if isinstance(arg.value, IntValueNode) else LIST_DEFAULT
    return 1


CSRF_EXEMPT = frozenset({"login"})  # signing in does not use the cookie it may replace


class CsrfGuard(SchemaExtension):
    """A mutation authenticated by the session cookie needs the X-CSRF-Token header."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if (
            ec.operation_type == OperationType.MUTATION
            and not ec.context.csrf_ok
            and not _only_exempt_fields(ec)
        ):
            ec.result = GraphQLExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "missing or wrong X-CSRF-Token header for a cookie-authenticated mutation"
                    )
                ],
            )
        yield


def _only_exempt_fields(ec) -> bool:
    op = get_operation_ast(ec.graphql_document, ec.operation_name)
    if op is None:
        return False
    return all(
        isinstance(s, FieldNode) and s.name.value in CSRF_EXEMPT
        for s in op.selection_set.selections
    )


def should_mask(error: GraphQLError) -> bool:
    """In production only our own messages get through; anything unexpected is masked."""
    original = error.original_error
    if original is None:
        return False  # graphql-core's own (validation, limits): safe and useful
    from strawberry.exceptions import StrawberryGraphQLError

    from ..kit.errors import ServiceError

    return not isinstance(original, ServiceError | StrawberryGraphQLError | PermissionError)


@cache
def _rules(depth: int, aliases: int, cost: int) -> tuple[type[ValidationRule], ...]:
    # Built once: the validation cache is keyed by the rule classes, so new classes per
    # request would make every request a miss.
    return (depth_validator(depth, None, None), alias_validator(aliases), cost_rule(cost))


def extensions(settings: Settings, introspection: bool) -> list:
    """Extension factories: strawberry builds a fresh instance for every request."""
    rules = _rules(settings.max_query_depth, settings.max_query_aliases, settings.max_query_cost)
    ext: list = [
        CsrfGuard,
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=512),
    ]
    if not introspection:
        ext.append(DisableIntrospection)
    if not settings.development:
        ext.append(lambda: MaskErrors(should_mask_error=should_mask))
    return ext
