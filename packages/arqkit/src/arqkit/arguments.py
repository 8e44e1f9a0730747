"""A job's signature is its schema: arguments are checked and made JSON at enqueue, and come back as the
declared types in the worker.

arq hands a job whatever its serializer gives back, so with JSON a `datetime` or `UUID` arrives as a
`str`, and a pydantic model or a `Decimal` cannot be enqueued at all. Here each parameter (after `ctx`)
gets a pydantic `TypeAdapter` of its annotation: `encode` validates the values at enqueue and dumps them
in JSON mode (a model becomes an object, a `Decimal` a string, an enum its value), `decode` validates
the stored JSON back into the declared types before the job runs. Still JSON, never pickle.

A value that does not fit is `JobArgumentsInvalid` at enqueue, before anything is written. A stored
payload that no longer fits (the code changed under a queued job) is `JobPayloadInvalid`, a permanent
error: the try fails at once and the dead letter says which argument and why.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, Required, get_type_hints

import orjson
from pydantic import (
    ConfigDict,
    PydanticSchemaGenerationError,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict  # pydantic takes `typing.TypedDict` only from Python 3.12

from arqkit.errors import EditedArgumentsInvalid, JobArgumentsInvalid
from arqkit.retry import PermanentError
from arqkit.serializer import serialize

_ANY: TypeAdapter[Any] = TypeAdapter(Any)


class JobPayloadInvalid(PermanentError):
    """A queued job's stored arguments no longer fit its function's signature: never retried."""


class Arguments:
    """The schema of one job function's arguments (everything after `ctx`), built on first use so that
    annotations may name types defined later in the module."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self._built: _Schema | None = None

    def check(self) -> None:
        """Build the schema now: an annotation that cannot be resolved or carried as JSON is a
        `TypeError` at registration (import time), not at the first enqueue."""
        self._schema()

    def encode(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate for enqueue and return JSON-able values; the caller's positional/keyword split stays."""
        try:
            encoded = self._convert(args, kwargs, dump=True)
        except (TypeError, ValueError, PydanticSerializationError) as exc:
            raise JobArgumentsInvalid(f"{self.name}: {exc}") from exc
        try:
            serialize({"a": encoded[0], "k": encoded[1]})  # what JSON cannot carry, e.g. an int over 64 bits
        except TypeError as exc:  # orjson's JSONEncodeError
            raise JobArgumentsInvalid(f"{self.name}: not JSON: {exc}") from exc
        return encoded

    def decode(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The stored JSON as the declared types, for the function call."""
        try:
            return self._convert(args, kwargs, dump=False)
        except (TypeError, ValueError) as exc:
            message = f"the stored arguments no longer fit {self.name}'s signature: {exc}"
            raise JobPayloadInvalid(message) from exc

    def edited(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """An operator's edit, the whole set of arguments by name as JSON, checked as the worker will read
        it (JSON mode) and returned as the JSON to store. `EditedArgumentsInvalid` names each argument
        that is missing, unknown or of the wrong type."""
        schema = self._schema()
        if schema.keywords is None:  # *args, **kwargs or positional-only: checked as a whole
            try:
                return self.encode([], self._convert([], kwargs, dump=False)[1])[1]
            except (TypeError, ValueError) as exc:
                raise EditedArgumentsInvalid(self.name, [_problem("invalid", [], str(exc))]) from exc
        try:
            converted = schema.keywords.validate_json(orjson.dumps(kwargs))
            dumped = schema.keywords.dump_python(converted, mode="json")
        except ValidationError as exc:
            problems = [_problem(e["type"], list(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
            raise EditedArgumentsInvalid(self.name, problems) from exc
        except (TypeError, PydanticSerializationError) as exc:  # e.g. an int over 64 bits
            raise EditedArgumentsInvalid(self.name, [_problem("invalid", [], str(exc))]) from exc
        return {key: dumped[key] for key in kwargs}

    def by_name(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Stored arguments as one mapping by parameter name (what an edit starts from), whether or not
        they still fit the signature; None when one cannot be passed by name (positional-only, `*args`)."""
        params = list(self._schema().signature.parameters.values())
        named = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        if len(args) > len(named) or any(p.kind == p.POSITIONAL_ONLY for p in params):
            return None
        return {**dict(zip(named, args, strict=False)), **kwargs}

    def check_names(self, names: Sequence[str], what: str) -> None:
        """`names` are parameters that take one value each (not `*args`, `**kwargs` or `ctx`): else a
        `TypeError` where the job is declared."""
        parameters = list(inspect.signature(self.fn).parameters.values())[1:]
        plain = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        unknown = [name for name in names if name not in plain]
        if unknown:
            raise TypeError(f"{self.name}: {what} names {unknown}, not parameters of the job")

    def digest(self, names: Sequence[str], args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """A fingerprint of the values of the parameters `names` in JSON arguments (as stored, or as
        `encode` made them; a default dumped the same way): equal values, equal digests. Hashed from their
        canonical JSON, so no value can pass for two (`"a:b", "c"` and `"a", "b:c"` differ)."""
        schema = self._schema()
        bound = schema.signature.bind_partial(*args, **kwargs).arguments
        values = []
        for name in names:
            if name in bound:
                values.append(bound[name])
            else:
                default = schema.signature.parameters[name].default
                if default is inspect.Parameter.empty:  # not bound: `decode` says why
                    default = None
                values.append(schema.adapters.get(name, _ANY).dump_python(default, mode="json"))
        canonical = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:32]

    def _convert(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], *, dump: bool
    ) -> tuple[list[Any], dict[str, Any]]:
        schema = self._schema()
        if not args and schema.keywords is not None:
            try:  # the usual call, keywords only: all of them checked in one pydantic call
                return [], _keywords(schema.keywords, kwargs, dump)
            except (ValidationError, PydanticSerializationError):
                pass  # the argument-by-argument path below says what is wrong, and where
        signature, adapters = schema.signature, schema.adapters
        signature.bind(*args, **kwargs)  # TypeError: a missing, unexpected or repeated argument
        names = self._positional_names(signature, len(args))
        converted_args = [self._one(adapters, n, v, dump) for n, v in zip(names, args, strict=True)]
        converted_kwargs = {
            key: self._one(adapters, self._keyword_name(signature, key), value, dump)
            for key, value in kwargs.items()
        }
        return converted_args, converted_kwargs

    @staticmethod
    def _one(adapters: Mapping[str, TypeAdapter[Any]], name: str, value: Any, dump: bool) -> Any:
        """Enqueue: validate the Python value, dump it as JSON. Worker: validate the stored value in JSON
        mode, which is what it is (a strict model takes an ISO string for a datetime only from JSON)."""
        adapter = adapters.get(name, _ANY)
        try:
            if dump:
                return adapter.dump_python(adapter.validate_python(value), mode="json")
            return adapter.validate_json(orjson.dumps(value))
        except ValidationError as exc:
            raise ValueError(_validation_message(name, exc)) from exc

    @staticmethod
    def _positional_names(signature: inspect.Signature, count: int) -> list[str]:
        """The parameter each positional value binds to; extra values go to a `*args` parameter."""
        params = list(signature.parameters.values())
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        rest = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), "")
        return (positional + [rest] * count)[:count]

    @staticmethod
    def _keyword_name(signature: inspect.Signature, key: str) -> str:
        param = signature.parameters.get(key)
        if param is not None and param.kind != param.VAR_KEYWORD:
            return key
        return next((p.name for p in signature.parameters.values() if p.kind == p.VAR_KEYWORD), key)

    def _schema(self) -> _Schema:
        if self._built is None:
            self._built = _build(self.fn)
        return self._built


@dataclass(frozen=True)
class _Schema:
    signature: inspect.Signature  # without `ctx`
    adapters: dict[str, TypeAdapter[Any]]  # one per annotated parameter (`*args: T` is each a `T`)
    keywords: TypeAdapter[Any] | None  # every parameter as one TypedDict; None with *args, **kwargs or `/`


def _keywords(adapter: TypeAdapter[Any], kwargs: Mapping[str, Any], dump: bool) -> dict[str, Any]:
    """The keyword arguments validated together (a missing, unexpected or invalid one: `ValidationError`),
    in the caller's order."""
    if dump:
        converted = adapter.dump_python(adapter.validate_python(kwargs), mode="json")
    else:
        converted = adapter.validate_json(orjson.dumps(kwargs))
    return {key: converted[key] for key in kwargs}


def _build(fn: Callable[..., Any]) -> _Schema:
    """The signature without `ctx`, an adapter per annotated parameter, and all of them as one TypedDict."""
    full = inspect.signature(fn)
    signature = full.replace(parameters=list(full.parameters.values())[1:])
    try:
        hints = get_type_hints(fn, include_extras=True)
    except NameError as exc:  # e.g. a type imported under `if TYPE_CHECKING:` only
        raise TypeError(f"{fn.__name__}: an annotation cannot be resolved at run time: {exc}") from exc
    adapters: dict[str, TypeAdapter[Any]] = {}
    for name in signature.parameters:
        if name in hints:
            try:
                adapters[name] = TypeAdapter(hints[name])
            except PydanticSchemaGenerationError as exc:
                raise TypeError(f"{fn.__name__}: parameter {name!r} has a type JSON cannot carry") from exc
    return _Schema(signature, adapters, _keywords_adapter(fn.__name__, signature, hints))


def _keywords_adapter(
    name: str, signature: inspect.Signature, hints: dict[str, Any]
) -> TypeAdapter[Any] | None:
    """The parameters as one `TypedDict` (required unless defaulted, nothing else allowed), when every one
    of them can be passed by keyword and there is no `*args` or `**kwargs`."""
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(param.kind not in by_keyword for param in signature.parameters.values()):
        return None
    fields = {
        key: (Required if param.default is param.empty else NotRequired)[hints.get(key, Any)]
        for key, param in signature.parameters.items()
    }
    typed = TypedDict(f"{name}_arguments", fields)  # type: ignore[misc]  # built from the signature
    typed.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    try:
        return TypeAdapter(typed)
    except PydanticUserError:  # each parameter has its adapter: the argument-by-argument path serves
        return None


def _validation_message(name: str, exc: ValidationError) -> str:
    """One line per problem, `name.field: message`, without pydantic's documentation links."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join([name, *(str(part) for part in error["loc"])])
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _problem(kind: str, loc: list[str | int], message: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": message}
