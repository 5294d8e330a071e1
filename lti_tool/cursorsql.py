"""A statement compiled once and run on the DBAPI cursor of a connection, inside the connection's transaction.

For the few writes on a hot path where SQLAlchemy's work per execution (the compiled-cache lookup, an execution
context, parameter and result set-up) costs several times what the database does: the launch's writes on SQLite
(bench/FINDINGS.md, "CPU per launch, step 11"). What SQLAlchemy would send is sent: the statement is compiled by
SQLAlchemy for the connection's dialect, each value goes through its column type's bind processor (dates, JSON,
booleans) and each returned value through its result processor. The engine's `before_cursor_execute` and
`after_cursor_execute` listeners see every statement as they would from `Connection.execute` (the benchmark's
statement counter and the tests that count statements rely on them), and a database error is raised as
SQLAlchemy's exception for it.

Positional parameter styles (SQLite's `qmark`); an expanding IN parameter (a list) is rendered once per length
of its list. On psycopg the statement is compiled with PostgreSQL's own `$1` placeholders and run on a raw cursor,
which takes the SQL as it is: with its named placeholders psycopg parses every statement longer than 4,096 characters
or with more than 50 parameters again on every run (the launch's one statement is both), and SQLAlchemy rewrites
the text of a statement with an expanding parameter on every run. With another driver the statement runs through
`Connection.execute`.

An error goes through SQLAlchemy's handling of the connection's errors (`Connection._handle_dbapi_exception`, as
its own `_cursor_execute` does): raised as SQLAlchemy's exception for it, a lost connection invalidated with the
pool's older ones. Columns an INSERT leaves out get their Python-side defaults as SQLAlchemy's execution gives
them.
"""

from __future__ import annotations

import copy
import functools
import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

_Processor = Callable[[Any], Any] | None
_FROM_PARAMS = object()  # an argument whose value the caller's parameters give


@dataclass(frozen=True, slots=True)
class _Default:
    """An argument for a column the statement leaves out: its default, computed in Python per execution as
    SQLAlchemy's execution context computes it (a scalar, or a function of no arguments that SQLAlchemy wrapped
    to take the context)."""

    make: Callable[[Any], Any]


_Arg = tuple[str, int | None, Any, _Processor, int]


@dataclass(frozen=True)
class _Form:
    """The SQL for one length of each expanding parameter, and where each `?` takes its value from: (parameter
    name, index in its list or None, the statement's own value or _FROM_PARAMS, the bind processor, the id of the
    bind's type). `take` gives the values in the order of the `?`s, unprocessed; `processing` the positions
    whose value goes through a bind processor (most values go as they are: worked out once, not per run)."""

    sql: str
    args: tuple[_Arg, ...]
    take: Callable[[Mapping[str, Any]], list[Any]]
    processing: tuple[tuple[int, Callable[[Any], Any], int], ...]


def _taker(args: tuple[_Arg, ...]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """The function that lists a run's values from its parameters: one `itemgetter` when every value is a
    parameter by its name (most statements), else a loop."""
    if all(own is _FROM_PARAMS and index is None for _, index, own, _, _ in args):
        if len(args) > 1:
            getter = operator.itemgetter(*(name for name, *_ in args))
            return lambda params: list(getter(params))
        names = [name for name, *_ in args]
        return lambda params: [params[name] for name in names]

    def take(params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, index, own, _, _ in args:
            if own is _FROM_PARAMS:
                values.append(params[name] if index is None else params[name][index])
            elif type(own) is _Default:
                values.append(own.make(None))
            else:
                values.append(params.get(name, own))
        return values

    return take


@dataclass
class _Compiled:
    """The statement compiled for one dialect, and its forms by the lengths of its expanding parameters."""

    compiled: Any
    dialect: Dialect  # the connection's: the values' processors are its types'
    expanding: tuple[str, ...]
    # The returned columns that have a result processor (their position, the processor), worked out with the types
    # the driver reports for them on the first run that returns rows (PostgreSQL's numeric types need them, as in
    # SQLAlchemy's own result set-up); the other columns are returned as the driver gives them.
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None
    defaults: dict[str, _Default]  # by bind name: the columns left out whose default is computed in Python
    forms: dict[tuple[int, ...], _Form] = field(default_factory=dict)


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _context: value


class CursorStatement:
    """One SQLAlchemy Core statement (an INSERT … RETURNING, an upsert), compiled per dialect on first use."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    def execute(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        processed: dict[tuple[int, int], Any] | None = None,
        *,
        alone: bool = False,
    ) -> list[Sequence[Any]]:
        """Run it on `conn`, which must be in a transaction (`alone`: a read the caller runs outside one on
        purpose, db.read_alone), with `params`; the rows it returns.

        `processed`: values already put through a bind processor, by the id of the bind's type object and of the
        value, shared by several statements of one unit of work whose parameters neither change nor go away
        meanwhile: a value bound to several columns of one type object is processed once (the launch's time goes
        into a dozen columns; formatting a datetime for SQLite costs ~30,000 instructions)."""
        if not alone and not conn.in_transaction():
            raise RuntimeError("a CursorStatement runs inside the connection's transaction only")
        dialect = conn.dialect
        raw = dialect.driver == "psycopg"
        if not dialect.positional and not raw:
            return list(conn.execute(self.statement, params))
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        lengths = tuple(len(params[name]) for name in compiled.expanding) if compiled.expanding else ()
        form = compiled.forms.get(lengths) or self._form(compiled, lengths)
        args = form.take(params)
        for position, process, type_id in form.processing:
            value = args[position]
            if processed is None:
                args[position] = process(value)
            else:
                key = (type_id, id(value))
                done = processed.get(key, _FROM_PARAMS)
                if done is _FROM_PARAMS:
                    done = processed[key] = process(value)
                args[position] = done
        sql = form.sql
        cursor = _raw_cursor(conn) if raw else conn.connection.cursor()
        try:
            for listener in conn.dispatch.before_cursor_execute:
                listener(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            for listener in conn.dispatch.after_cursor_execute:
                listener(conn, cursor, sql, args, None, False)
            returned = _has_rows(cursor) if raw else cursor.description is not None
            rows = cast(list[Sequence[Any]], cursor.fetchall() if returned else [])
            results = compiled.results
            if results is None and rows:
                results = compiled.results = self._results(compiled.dialect, cursor.description)
        except BaseException as error:
            conn._handle_dbapi_exception(error, sql, args, cursor, None)
        finally:
            cursor.close()
        if not rows or not results:
            return rows
        processed_rows: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for position, process in results:
                values[position] = process(values[position])
            processed_rows.append(tuple(values))
        return processed_rows

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect if dialect.positional else _numbered(dialect))
        result = _Compiled(
            compiled,
            dialect,
            tuple(name for name, bind in compiled.binds.items() if bind.expanding),
            None,
            self._defaults(compiled),
        )
        self._compiled[dialect] = result
        return result

    def _results(self, dialect: Dialect, description: Any) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The returned columns' result processors (by position), given the type code the driver reports for each;
        columns without one are left out."""
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(self.statement.exported_columns, description, strict=False)
        )
        return tuple((position, p) for position, p in enumerate(processors) if p is not None)

    @staticmethod
    def _defaults(compiled: Any) -> dict[str, _Default]:
        """The Python-side defaults of the columns an INSERT (else an UPDATE) leaves out, which SQLAlchemy's
        execution computes before it runs the statement ("prefetch"); only scalars and functions (before, such
        a column was sent NULL)."""
        inserting = bool(compiled.insert_prefetch)
        found = {}
        for column in compiled.insert_prefetch or compiled.update_prefetch:
            default = column.default if inserting else column.onupdate
            if column.key not in compiled.binds or not (default.is_scalar or default.is_callable):
                raise ValueError(f"column {column.key}: a default CursorStatement cannot compute")
            found[column.key] = _Default(default.arg if default.is_callable else _constant(default.arg))
        return found

    @staticmethod
    def _form(compiled: _Compiled, lengths: tuple[int, ...]) -> _Form:
        binds = compiled.compiled.binds
        by_name = {name: bind for bind, name in compiled.compiled.bind_names.items()}  # anonymous ones too
        dialect = compiled.dialect
        placeholders: dict[str, Any] = {name: None for name in binds}
        placeholders.update({name: [None] * n for name, n in zip(compiled.expanding, lengths, strict=True)})
        state = compiled.compiled.construct_expanded_state(placeholders)
        source = {
            part: (name, i)
            for name, parts in state.parameter_expansion.items()
            for i, part in enumerate(parts)
        }
        args = []
        for position in state.positiontup or ():
            name, index = source.get(position, (position, None))
            bind = binds[name] if name in binds else by_name[name]
            if bind.callable is not None:
                raise ValueError(f"bind parameter {name} takes its value from a callable")
            own = compiled.defaults.get(name) or (_FROM_PARAMS if bind.required else bind.value)
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            args.append((name, index, own, process, id(bind.type)))
        form = _Form(
            state.statement,
            tuple(args),
            _taker(tuple(args)),
            tuple((i, process, type_id) for i, (_, _, _, process, type_id) in enumerate(args) if process),
        )
        compiled.forms[lengths] = form
        return form


def _numbered(dialect: Dialect) -> Dialect:
    """The connection's dialect compiling with PostgreSQL's numbered placeholders ($1, $2, …): a copy, so that the
    copy has whatever the connection's dialect learnt from the server."""
    numbered = copy.copy(dialect)
    numbered.paramstyle = "numeric_dollar"
    numbered.positional = True
    # Its own quoting: the connection's doubles every % for psycopg's placeholders, which a raw cursor does not read.
    numbered.identifier_preparer = numbered.preparer(numbered)
    return numbered


def _has_rows(cursor: Any) -> bool:
    """Whether psycopg's cursor has rows to fetch (a SELECT, RETURNING), from the result's status: its
    `description` builds a Column object per column on every use (~30 for a session's read)."""
    result = cursor.pgresult
    return result is not None and result.status == _tuples_ok()


@functools.cache
def _tuples_ok() -> Any:
    from psycopg import pq  # imported when PostgreSQL is used only

    return pq.ExecStatus.TUPLES_OK


def _raw_cursor(conn: Connection) -> Any:
    """A psycopg cursor that sends the SQL as it is, its values as `$1`, `$2`, … (psycopg's `RawCursor`)."""
    dbapi = conn.connection.dbapi_connection
    return _raw_cursor_class()(dbapi)


@functools.cache
def _raw_cursor_class() -> Any:
    from psycopg import RawCursor  # imported when PostgreSQL is used only

    return RawCursor
