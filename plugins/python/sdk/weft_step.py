"""Guest-side helpers for Weft steps written in Python (built with componentize-py).

A step module `app.py` defines `class Step(weft_step.Guest)` with `describe(self)` (the
step's contract, built with `step_info`, `port` and `param`) and `run(self, params)`.
This module gives it typed parameters, chunked artifact IO, logs, metrics, errors and the
standard table format (`TABLE`, column-oriented JSON).

The names are the same in the four SDKs (Rust, Python, JavaScript, C), spelt as each
language spells names: `read_bytes` here is `readBytes` in JavaScript and `weft_read_bytes`
in C. The table of them is `docs/plugin-sdk.md` in Weft's repository.

Errors: `raise bad_input("...")` when the inputs or parameters are wrong (never retried),
`raise failed("...")` when a retry may help. Any other exception raised by `run` becomes
`failed` with its type, message and the place it was raised (`Guest` does this).
"""

import json

from componentize_py_types import Err
from wit_world.imports import artifacts, log as _log, metrics, types

TABLE = "application/vnd.weft.table+json"
"""Media type of Weft's standard table (column-oriented JSON)."""

CHUNK = 256 * 1024
"""Bytes asked for per read and sent per write; the host caps one chunk at 1 MiB."""

_PARAM_TYPES = {
    "str": (types.ParamType.STR, types.ParamValue_Str),
    "int": (types.ParamType.INT, types.ParamValue_Int),
    "float": (types.ParamType.FLOAT, types.ParamValue_Float),
    "bool": (types.ParamType.BOOLEAN, types.ParamValue_Boolean),
}

_LEVELS = {
    "trace": _log.Level.TRACE,
    "debug": _log.Level.DEBUG,
    "info": _log.Level.INFO,
    "warn": _log.Level.WARN,
    "error": _log.Level.ERROR,
}


# --- The step ---------------------------------------------------------------------------


class Guest:
    """Base class of a step: `class Step(weft_step.Guest)`.

    It turns any exception `run` raises, other than `bad_input` and `failed`, into
    `failed` with the exception's type, message and the innermost place in the step's own
    files, so the run shows "KeyError: 'x' (app.py, line 12, in run)" instead of a crash.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if run is not None:
            cls.run = _guarded(run)


def _guarded(run):
    # The step's own files are beside the module that defines `run`.
    home = run.__code__.co_filename.rsplit("/", 1)[0] + "/"

    def guarded_run(self, params):
        try:
            return run(self, params)
        except Err:
            raise
        except Exception as e:  # noqa: BLE001 - every exception of the step's own code
            raise failed(_account(e, home)) from None

    guarded_run.__name__ = run.__name__
    guarded_run.__doc__ = run.__doc__
    return guarded_run


def _account(e, home):
    """`TYPE: message (file, line N, in function)`, at the innermost frame in the step's own
    files (those under `home`, but this SDK), else the innermost frame outside this SDK."""
    said = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    # Walked by hand: componentize-py's standard library has no `traceback` module.
    own = other = None
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        place = (code.co_filename.rsplit("/", 1)[-1], tb.tb_lineno, code.co_name)
        if not code.co_filename.endswith("weft_step.py"):
            other = place
            if code.co_filename.startswith(home):
                own = place
        tb = tb.tb_next
    place = own or other
    if place is None:
        return said
    return f"{said} ({place[0]}, line {place[1]}, in {place[2]})"


def step_info(name, version, description, inputs, outputs, params):
    """The whole declaration `describe()` returns: the step's name and version, what it
    does, its input and output ports (`port`) and its parameters (`param`)."""
    return types.StepInfo(
        name=name, version=version, description=description, inputs=inputs, outputs=outputs, params=params
    )


def port(name, media_type, description, many=False):
    """A port declaration: `media_type` may end in `/*` (`text/*`); a `many` input takes
    any number of artifacts (a fan-in), read with `read_many`."""
    return types.Port(name=name, media_type=media_type, description=description, many=many)


def param(name, ty, default, description):
    """A parameter declaration: `ty` is "str", "int", "float" or "bool"; `default` is a
    value of that type, or None when a workflow must give one."""
    if ty not in _PARAM_TYPES:
        raise ValueError(f"parameter `{name}`: type {ty!r} is not one of str, int, float, bool")
    wit_ty, wrap = _PARAM_TYPES[ty]
    return types.ParamSpec(
        name=name, ty=wit_ty, default=None if default is None else wrap(default), description=description
    )


# --- Parameters ---------------------------------------------------------------------------


class Params:
    """The parameters `run` receives, read by name and type: `Params(params).int("k")`.

    The host has checked their types against the declaration and applied the defaults, so
    a missing parameter or another type is a bug in the step: `bad_input`, never retried.
    """

    def __init__(self, params):
        self._values = {p.name: p.value for p in params}

    def _get(self, name, wit_type, type_name):
        value = self._values.get(name)
        if value is None:
            raise bad_input(f"parameter `{name}` was not passed")
        if not isinstance(value, wit_type):
            raise bad_input(f"parameter `{name}` is not of type {type_name}")
        return value.value

    def str(self, name):
        """A "str" parameter."""
        return self._get(name, types.ParamValue_Str, "str")

    def int(self, name):
        """An "int" parameter."""
        return self._get(name, types.ParamValue_Int, "int")

    def float(self, name):
        """A "float" parameter."""
        return self._get(name, types.ParamValue_Float, "float")

    def bool(self, name):
        """A "bool" parameter."""
        return self._get(name, types.ParamValue_Boolean, "bool")


# --- Errors -------------------------------------------------------------------------------


def bad_input(message):
    """The error for wrong inputs or parameters, which running again cannot fix (never
    retried): `raise bad_input("...")`."""
    return Err(types.StepError_BadInput(str(message)))


def failed(message):
    """The error for a failure a retry may fix (`retry:` in the workflow):
    `raise failed("...")`."""
    return Err(types.StepError_Failed(str(message)))


# --- Inputs -------------------------------------------------------------------------------


def _drain(reader, port_name):
    parts = []
    try:
        with reader:
            while True:
                chunk = reader.read(CHUNK)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
    except Err as e:
        raise failed(f"read input `{port_name}`: {e.value}") from None


def _open(port_name):
    # Asking for a port the step did not declare, or one not bound, is a bug in the step.
    try:
        return artifacts.open(port_name)
    except Err as e:
        raise bad_input(f"open input `{port_name}`: {e.value}") from None


def read_bytes(port_name):
    """All bytes of the input bound to `port_name`.

    A port the step did not declare, or one not bound, raises `bad_input`; a failure while
    reading raises `failed`.
    """
    return _drain(_open(port_name), port_name)


def read_text(port_name):
    """The input `port_name` as UTF-8 text (other bytes raise `bad_input`)."""
    try:
        return read_bytes(port_name).decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_input(f"input `{port_name}` is not UTF-8: {e}") from None


def read_json(port_name):
    """The input `port_name` parsed as JSON (anything else raises `bad_input`)."""
    try:
        return json.loads(read_bytes(port_name))
    except ValueError as e:
        raise bad_input(f"input `{port_name}` is not JSON: {e}") from None


def read_many(port_name):
    """All bytes of every artifact bound to the fan-in (`many`) input `port_name`, in
    binding order (for a matrix step's outputs: the order of its instances)."""
    try:
        readers = artifacts.open_all(port_name)
    except Err as e:
        raise bad_input(f"open inputs `{port_name}`: {e.value}") from None
    return [_drain(reader, port_name) for reader in readers]


def source(port_name):
    """Where the input bound to `port_name` comes from: `inputs.NAME`, `STEP.PORT`, or a
    local file's path under `weft step run` (its key in `lineage()`)."""
    with _open(port_name) as reader:
        return reader.source()


def lineage():
    """How every input of this step was made, back to the workflow inputs, as the host
    recorded it: a list of records (`source`, `digest`, `size`, `media_type`, `made_by`),
    each after the entries it was made from."""
    return artifacts.lineage()


# --- Outputs ------------------------------------------------------------------------------


def write_bytes(port_name, data):
    """Writes `data` as the output `port_name`, once.

    A port the step did not declare, or one written already, raises `bad_input`; a failure
    while writing raises `failed`. Nothing is visible to other steps unless `run` succeeds.
    """
    try:
        writer = artifacts.create(port_name)
    except Err as e:
        raise bad_input(f"create output `{port_name}`: {e.value}") from None
    try:
        with writer:
            for start in range(0, len(data), CHUNK):
                writer.write(data[start : start + CHUNK])
    except Err as e:
        raise failed(f"write output `{port_name}`: {e.value}") from None


def write_text(port_name, text):
    """Writes `text` as UTF-8 to the output `port_name`."""
    write_bytes(port_name, text.encode("utf-8"))


def write_json(port_name, value):
    """Writes `value` as compact JSON in UTF-8 to the output `port_name`. NaN and infinities,
    which JSON has not, are written as `null`, as the other SDKs write them."""
    text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    write_bytes(port_name, text.encode("utf-8"))


def _finite(value):
    """`value` with every NaN or infinite float replaced by None (JSON's `null`)."""
    if isinstance(value, float):
        return value if value - value == 0.0 else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# --- Logs and metrics ---------------------------------------------------------------------


def log(level, message):
    """Appends `message` to the step's log at `level`: "trace", "debug", "info", "warn" or
    "error". The host keeps at most 10,000 lines and 1 MiB of a step's log."""
    if level not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of trace, debug, info, warn, error")
    _log.emit(_LEVELS[level], str(message))


def metric(name, value):
    """Records the number `value` as the metric `name` of this execution (again: replaces)."""
    metrics.record(name, float(value))
