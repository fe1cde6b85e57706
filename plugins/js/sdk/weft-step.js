// Guest-side helpers for Weft steps written in JavaScript (built with componentize-js):
// chunked artifact IO, declarations, parameters, errors and the standard table format.
import { open, openAll, create } from 'weft:step/artifacts@0.1.0';
import { emit } from 'weft:step/log@0.1.0';
import { record } from 'weft:step/metrics@0.1.0';

export const TABLE = 'application/vnd.weft.table+json';
const CHUNK = 256 * 1024;

/** A port declaration. */
export function port(name, mediaType, description, many = false) {
  return { name, mediaType, description, many };
}

/** A parameter declaration; `ty` is 'str', 'int', 'float' or 'boolean'. */
export function param(name, ty, defaultValue, description) {
  const value = defaultValue === undefined ? undefined : { tag: ty, val: ty === 'int' ? BigInt(defaultValue) : defaultValue };
  return { name, ty, default: value, description };
}

/** The `run` parameters as a plain object (ints as Numbers). */
export function paramsObject(params) {
  const out = {};
  for (const p of params) {
    out[p.name] = typeof p.value.val === 'bigint' ? Number(p.value.val) : p.value.val;
  }
  return out;
}

/** An error for wrong inputs or parameters (not retried): `throw badInput('...')`. */
export function badInput(message) {
  return { tag: 'bad-input', val: String(message) };
}

/** An error a retry may fix: `throw failed('...')`. */
export function failed(message) {
  return { tag: 'failed', val: String(message) };
}

function drain(reader) {
  const parts = [];
  let total = 0;
  for (;;) {
    const chunk = reader.read(CHUNK);
    if (chunk.length === 0) break;
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * All bytes of the input bound to `portName`. Asking for a port the step did not declare,
 * or one not bound, is a bug in the step: it throws `badInput` (never retried).
 */
export function readBytes(portName) {
  let reader;
  try {
    reader = open(portName);
  } catch (e) {
    throw badInput(`open input \`${portName}\`: ${e.payload ?? e}`);
  }
  return drain(reader);
}

/** All bytes of every artifact bound to the fan-in input `portName` (an undeclared port throws `badInput`). */
export function readMany(portName) {
  let readers;
  try {
    readers = openAll(portName);
  } catch (e) {
    throw badInput(`open inputs \`${portName}\`: ${e.payload ?? e}`);
  }
  return readers.map(drain);
}

/**
 * Writes bytes as the output `portName`: a port the step did not declare throws
 * `badInput`, a failure while writing `failed`.
 */
export function writeBytes(portName, bytes) {
  let writer;
  try {
    writer = create(portName);
  } catch (e) {
    throw badInput(`create output \`${portName}\`: ${e.payload ?? e}`);
  }
  try {
    for (let at = 0; at < bytes.length; at += CHUNK) {
      writer.write(bytes.subarray(at, at + CHUNK));
    }
  } catch (e) {
    throw failed(`write output \`${portName}\`: ${e.payload ?? e}`);
  }
}

/** The input `portName` parsed as JSON. */
export function readJson(portName) {
  const text = new TextDecoder().decode(readBytes(portName));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badInput(`input \`${portName}\` is not JSON: ${e.message}`);
  }
}

/** Writes a value as JSON to the output `portName`. */
export function writeJson(portName, value) {
  writeBytes(portName, new TextEncoder().encode(JSON.stringify(value)));
}

/** Records a metric of this execution. */
export function metric(name, value) {
  record(name, Number(value));
}

/** Logs a message at info level. */
export function info(message) {
  emit('info', String(message));
}
