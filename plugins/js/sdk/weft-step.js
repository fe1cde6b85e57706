// Guest-side helpers for Weft steps written in JavaScript (built with componentize-js):
// the step, declarations, typed parameters, chunked artifact IO, logs, metrics, errors and
// the standard table format.
//
// A step module `app.js` exports `step = guest({ describe() {...}, run(params) {...} })`.
// The names are the same in the four SDKs (Rust, Python, JavaScript, C), spelt as each
// language spells names: `readBytes` here is `read_bytes` in Python and Rust and
// `weft_read_bytes` in C. The table of them is `docs/plugin-sdk.md` in Weft's repository.
import { open, openAll, create, lineage as hostLineage } from 'weft:step/artifacts@0.1.0';
import { emit } from 'weft:step/log@0.1.0';
import { record } from 'weft:step/metrics@0.1.0';

/** Media type of Weft's standard table (column-oriented JSON). */
export const TABLE = 'application/vnd.weft.table+json';

/** Bytes asked for per read and sent per write; the host caps one chunk at 1 MiB. */
const CHUNK = 256 * 1024;

// The SDK's parameter type names, and the WIT's (`param-type`, `param-value`) they stand for.
const PARAM_TYPES = { str: 'str', int: 'int', float: 'float', bool: 'boolean' };
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

// --- The step ------------------------------------------------------------------------------

/**
 * Makes `{ describe, run }` the step: `export const step = guest({ ... })`.
 *
 * Anything `run` throws other than `badInput(...)` and `failed(...)` becomes `failed` with
 * the error's name, message and the innermost place in the step's own files, so the run
 * shows "TypeError: x is null (app.js:20:11, in run)" instead of a crash.
 *
 * @param {{describe: () => object, run: (params: Array<object>) => void}} step
 * @returns {{describe: () => object, run: (params: Array<object>) => void}}
 */
export function guest(step) {
  const run = step.run;
  return {
    describe: () => step.describe(),
    run(params) {
      try {
        run.call(step, params);
      } catch (e) {
        if (isStepError(e)) throw e;
        throw failed(account(e));
      }
    },
  };
}

function isStepError(e) {
  return e !== null && typeof e === 'object' && (e.tag === 'bad-input' || e.tag === 'failed') && typeof e.val === 'string';
}

// `Name: message (file:line:column, in function)`, at the innermost frame not in this SDK.
function account(e) {
  if (!(e instanceof Error)) {
    let shown;
    try {
      shown = String(e);
    } catch {
      shown = Object.prototype.toString.call(e);
    }
    return `thrown: ${shown.slice(0, 1000)}`;
  }
  const said = e.message ? `${e.name}: ${e.message}` : e.name;
  // SpiderMonkey's frames read `function@file:line:column`.
  const frame = String(e.stack ?? '')
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.includes('@') && !line.includes('weft-step.js') && !line.includes('/sources/initializer.js'));
  if (!frame) return said;
  const at = frame.lastIndexOf('@');
  const fn = frame.slice(0, at);
  const place = frame.slice(at + 1).split('/').pop();
  return fn ? `${said} (${place}, in ${fn})` : `${said} (${place})`;
}

/**
 * A port declaration: `mediaType` may end in `/*` (`text/*`); a `many` input takes any
 * number of artifacts (a fan-in), read with `readMany`.
 *
 * @param {string} name
 * @param {string} mediaType
 * @param {string} description
 * @param {boolean} [many]
 */
export function port(name, mediaType, description, many = false) {
  return { name, mediaType, description, many };
}

/**
 * A parameter declaration: `type` is 'str', 'int', 'float' or 'bool'; `defaultValue` is a
 * value of that type, or `undefined` when a workflow must give one.
 *
 * @param {string} name
 * @param {'str'|'int'|'float'|'bool'} type
 * @param {string|number|boolean|undefined} defaultValue
 * @param {string} description
 */
export function param(name, type, defaultValue, description) {
  const ty = PARAM_TYPES[type];
  if (ty === undefined) {
    throw new TypeError(`parameter \`${name}\`: type '${type}' is not one of str, int, float, bool`);
  }
  const value = defaultValue === undefined ? undefined : { tag: ty, val: ty === 'int' ? BigInt(defaultValue) : defaultValue };
  return { name, ty, default: value, description };
}

// --- Parameters ------------------------------------------------------------------------------

/**
 * The parameters `run` receives, read by name and type: `new Params(params).int('k')`.
 *
 * The host has checked their types against the declaration and applied the defaults, so a
 * missing parameter or another type is a bug in the step: `badInput`, never retried.
 */
export class Params {
  /** @param {Array<{name: string, value: {tag: string, val: unknown}}>} params */
  #values;

  constructor(params) {
    this.#values = new Map(params.map((p) => [p.name, p.value]));
  }

  #get(name, type) {
    const value = this.#values.get(name);
    if (value === undefined) throw badInput(`parameter \`${name}\` was not passed`);
    if (value.tag !== PARAM_TYPES[type]) throw badInput(`parameter \`${name}\` is not of type ${type}`);
    return value.val;
  }

  /** A 'str' parameter. @returns {string} */
  str(name) {
    return this.#get(name, 'str');
  }

  /** An 'int' parameter, as a Number (exact up to 2^53). @returns {number} */
  int(name) {
    return Number(this.#get(name, 'int'));
  }

  /** A 'float' parameter. @returns {number} */
  float(name) {
    return this.#get(name, 'float');
  }

  /** A 'bool' parameter. @returns {boolean} */
  bool(name) {
    return this.#get(name, 'bool');
  }
}

// --- Errors ----------------------------------------------------------------------------------

/** The error for wrong inputs or parameters, which running again cannot fix (never retried): `throw badInput('...')`. */
export function badInput(message) {
  return { tag: 'bad-input', val: String(message) };
}

/** The error for a failure a retry may fix (`retry:` in the workflow): `throw failed('...')`. */
export function failed(message) {
  return { tag: 'failed', val: String(message) };
}

// --- Inputs ----------------------------------------------------------------------------------

// Gives a reader or writer back to the host now rather than when the garbage collector
// finds it: the host lets a step hold at most 256 at once.
function release(resource) {
  if (typeof Symbol.dispose === 'symbol' && typeof resource[Symbol.dispose] === 'function') {
    resource[Symbol.dispose]();
  }
}

function drain(reader, portName) {
  const parts = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = reader.read(CHUNK);
      if (chunk.length === 0) break;
      parts.push(chunk);
      total += chunk.length;
    }
  } catch (e) {
    throw failed(`read input \`${portName}\`: ${e.payload ?? e}`);
  } finally {
    release(reader);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Asking for a port the step did not declare, or one not bound, is a bug in the step.
function openInput(portName) {
  try {
    return open(portName);
  } catch (e) {
    throw badInput(`open input \`${portName}\`: ${e.payload ?? e}`);
  }
}

/**
 * All bytes of the input bound to `portName`. A port the step did not declare, or one not
 * bound, throws `badInput`; a failure while reading throws `failed`.
 *
 * @returns {Uint8Array}
 */
export function readBytes(portName) {
  return drain(openInput(portName), portName);
}

/** The input `portName` as UTF-8 text (other bytes throw `badInput`). @returns {string} */
export function readText(portName) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(readBytes(portName));
  } catch (e) {
    if (isStepError(e)) throw e;
    throw badInput(`input \`${portName}\` is not UTF-8`);
  }
}

/** The input `portName` parsed as JSON (anything else throws `badInput`). */
export function readJson(portName) {
  const text = readText(portName);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badInput(`input \`${portName}\` is not JSON: ${e.message}`);
  }
}

/**
 * All bytes of every artifact bound to the fan-in (`many`) input `portName`, in binding
 * order (for a matrix step's outputs: the order of its instances).
 *
 * @returns {Uint8Array[]}
 */
export function readMany(portName) {
  let readers;
  try {
    readers = openAll(portName);
  } catch (e) {
    throw badInput(`open inputs \`${portName}\`: ${e.payload ?? e}`);
  }
  return readers.map((r) => drain(r, portName));
}

/**
 * Where the input bound to `portName` comes from: `inputs.NAME`, `STEP.PORT`, or a local
 * file's path under `weft step run` (its key in `lineage()`).
 *
 * @returns {string}
 */
export function source(portName) {
  const reader = openInput(portName);
  try {
    return reader.source();
  } finally {
    release(reader);
  }
}

/**
 * How every input of this step was made, back to the workflow inputs, as the host recorded
 * it: `{source, digest, size, mediaType, madeBy}` objects, each after the entries it was
 * made from.
 */
export function lineage() {
  return hostLineage();
}

// --- Outputs ---------------------------------------------------------------------------------

/**
 * Writes bytes as the output `portName`, once. A port the step did not declare, or one
 * written already, throws `badInput`; a failure while writing throws `failed`. Nothing is
 * visible to other steps unless `run` succeeds.
 *
 * @param {string} portName
 * @param {Uint8Array} bytes
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
  } finally {
    release(writer);
  }
}

/** Writes `text` as UTF-8 to the output `portName`. */
export function writeText(portName, text) {
  writeBytes(portName, new TextEncoder().encode(String(text)));
}

/** Writes `value` as JSON to the output `portName`. */
export function writeJson(portName, value) {
  writeText(portName, JSON.stringify(value));
}

// --- Logs and metrics ------------------------------------------------------------------------

/**
 * Appends `message` to the step's log at `level`: 'trace', 'debug', 'info', 'warn' or
 * 'error'. The host keeps at most 10,000 lines and 1 MiB of a step's log.
 */
export function log(level, message) {
  if (!LEVELS.includes(level)) {
    throw new TypeError(`log level '${level}' is not one of ${LEVELS.join(', ')}`);
  }
  emit(level, String(message));
}

/** Records the number `value` as the metric `name` of this execution (again: replaces). */
export function metric(name, value) {
  record(name, Number(value));
}
