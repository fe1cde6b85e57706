"""Guest-side helpers for Weft steps written in Python (built with componentize-py).

A step module `app.py` defines `class Step` with `describe(self)` and `run(self, params)`;
this module gives it chunked artifact IO, typed parameters, errors and the standard
table format (`application/vnd.weft.table+json`, column-oriented JSON).
"""

import json

from componentize_py_types import Err
from wit_world.imports import artifacts, log, metrics, types

TABLE = "application/vnd.weft.table+json"
CHUNK = 256 * 1024


def port(name, media_type, description, many=False):
    """A port declaration."""
    return types.Port(name=name, media_type=media_type, description=description, many=many)


def param(name, ty, default, description):
    """A parameter declaration; `ty` is one of "str", "int", "float", "bool"."""
    kinds = {
        "str": (types.ParamType.STR, types.ParamValue_Str),
        "int": (types.ParamType.INT, types.ParamValue_Int),
        "float": (types.ParamType.FLOAT, types.ParamValue_Float),
        "bool": (types.ParamType.BOOLEAN, types.ParamValue_Boolean),
    }
    wit_ty, wrap = kinds[ty]
    return types.ParamSpec(
        name=name, ty=wit_ty, default=None if default is None else wrap(default), description=description
    )


def info(name, version, description, inputs, outputs, params):
    """The whole declaration `describe()` returns."""
    return types.StepInfo(
        name=name, version=version, description=description, inputs=inputs, outputs=outputs, params=params
    )


def params_dict(params):
    """The `run` parameters as a plain dict of Python values."""
    return {p.name: p.value.value for p in params}


def bad_input(message):
    """An error for wrong inputs or parameters (not retried). Raise it."""
    return Err(types.StepError_BadInput(message))


def failed(message):
    """An error a retry may fix. Raise it."""
    return Err(types.StepError_Failed(message))


def _drain(reader):
    parts = []
    while True:
        chunk = reader.read(CHUNK)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def read_bytes(port_name):
    """All bytes of the input bound to `port_name`.

    Asking for a port the step did not declare, or one not bound, is a bug in the step:
    it raises `bad_input` (never retried). A failure while reading raises `failed`.
    """
    try:
        reader = artifacts.open(port_name)
    except Err as e:
        raise bad_input(f"open input `{port_name}`: {e.value}")
    try:
        with reader:
            return _drain(reader)
    except Err as e:
        raise failed(f"read input `{port_name}`: {e.value}")


def read_many(port_name):
    """All bytes of every artifact bound to the fan-in input `port_name` (a port the step
    did not declare raises `bad_input`)."""
    try:
        readers = artifacts.open_all(port_name)
    except Err as e:
        raise bad_input(f"open inputs `{port_name}`: {e.value}")
    out = []
    for reader in readers:
        with reader:
            out.append(_drain(reader))
    return out


def write_bytes(port_name, data):
    """Writes `data` as the output `port_name` (a port the step did not declare raises
    `bad_input`; a failure while writing raises `failed`)."""
    try:
        writer = artifacts.create(port_name)
    except Err as e:
        raise bad_input(f"create output `{port_name}`: {e.value}")
    try:
        with writer:
            for start in range(0, len(data), CHUNK):
                writer.write(data[start : start + CHUNK])
    except Err as e:
        raise failed(f"write output `{port_name}`: {e.value}")


def read_json(port_name):
    """The input `port_name` parsed as JSON."""
    try:
        return json.loads(read_bytes(port_name))
    except ValueError as e:
        raise bad_input(f"input `{port_name}` is not JSON: {e}")


def write_json(port_name, value):
    """Writes `value` as JSON to the output `port_name`."""
    write_bytes(port_name, json.dumps(value, separators=(",", ":"), allow_nan=False).encode())


def metric(name, value):
    """Records a metric of this execution."""
    metrics.record(name, float(value))


def info_log(message):
    """Logs a message at info level."""
    log.emit(log.Level.INFO, message)
