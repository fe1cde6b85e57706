/* Guest-side helpers for Weft steps written in C: declarations, typed parameters, errors,
 * chunked artifact IO, logs and metrics over the bindings generated from wit/.
 *
 * A step defines exports_weft_step_step_describe() (its contract, built with weft_str,
 * weft_port and weft_param_*) and exports_weft_step_step_run(), which reads its parameters
 * with weft_get_*, its inputs with weft_read_bytes, writes outputs with weft_write_bytes,
 * and ends with `return true;` or `return weft_bad_input(err, ...)` / `weft_failed(err, ...)`.
 *
 * The names are the same in the four SDKs (Rust, Python, JavaScript, C), spelt as each
 * language spells names: weft_read_bytes here is read_bytes in Python and Rust and readBytes
 * in JavaScript. The table of them is docs/plugin-sdk.md in Weft's repository.
 *
 * Strings passed in are copied; what a function hands back to be freed says so. */
#ifndef WEFT_STEP_H
#define WEFT_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "step_component.h"

/* Media type of Weft's standard table (column-oriented JSON). */
#define WEFT_TABLE "application/vnd.weft.table+json"

/* Log levels for weft_log. */
#define WEFT_LOG_TRACE WEFT_STEP_LOG_LEVEL_TRACE
#define WEFT_LOG_DEBUG WEFT_STEP_LOG_LEVEL_DEBUG
#define WEFT_LOG_INFO WEFT_STEP_LOG_LEVEL_INFO
#define WEFT_LOG_WARN WEFT_STEP_LOG_LEVEL_WARN
#define WEFT_LOG_ERROR WEFT_STEP_LOG_LEVEL_ERROR

/* Parameter types, for weft_param_required. */
#define WEFT_PARAM_STR WEFT_STEP_TYPES_PARAM_TYPE_STR
#define WEFT_PARAM_INT WEFT_STEP_TYPES_PARAM_TYPE_INT
#define WEFT_PARAM_FLOAT WEFT_STEP_TYPES_PARAM_TYPE_FLOAT
#define WEFT_PARAM_BOOL WEFT_STEP_TYPES_PARAM_TYPE_BOOLEAN

typedef weft_step_types_step_error_t weft_error_t;
typedef exports_weft_step_step_list_param_t weft_params_t;

/* --- Declarations (describe) ------------------------------------------------------------ */

/* Copies a C string into a WIT string (the host frees what describe() returns). */
step_component_string_t weft_str(const char *s);

/* A port declaration: `media_type` may end in slash-star (text/...); a `many` input takes
 * any number of artifacts (a fan-in). */
weft_step_types_port_t weft_port(const char *name, const char *media_type, const char *description, bool many);

/* Parameter declarations with a default. */
weft_step_types_param_spec_t weft_param_str(const char *name, const char *dflt, const char *description);
weft_step_types_param_spec_t weft_param_int(const char *name, int64_t dflt, const char *description);
weft_step_types_param_spec_t weft_param_float(const char *name, double dflt, const char *description);
weft_step_types_param_spec_t weft_param_bool(const char *name, bool dflt, const char *description);

/* A parameter declaration without a default: a workflow must give it. `type` is
 * WEFT_PARAM_STR, WEFT_PARAM_INT, WEFT_PARAM_FLOAT or WEFT_PARAM_BOOL. */
weft_step_types_param_spec_t weft_param_required(const char *name, weft_step_types_param_type_t type,
                                                 const char *description);

/* --- Parameters (run) ------------------------------------------------------------------- */

/* The parameter `name` passed to run(), of its type, into `*out`. The host has checked the
 * types against the declaration and applied the defaults, so a missing parameter or another
 * type is a bug in the step: bad-input (never retried), and false. weft_get_str's `*out` is
 * a NUL-terminated copy the caller frees. */
bool weft_get_str(const weft_params_t *params, const char *name, char **out, weft_error_t *err);
bool weft_get_int(const weft_params_t *params, const char *name, int64_t *out, weft_error_t *err);
bool weft_get_float(const weft_params_t *params, const char *name, double *out, weft_error_t *err);
bool weft_get_bool(const weft_params_t *params, const char *name, bool *out, weft_error_t *err);

/* --- Errors ----------------------------------------------------------------------------- */

/* Fills `err` with a formatted message (at most 1 KiB) and returns false, so
 * `return weft_bad_input(err, "...")` ends run(). bad-input: the inputs or parameters are
 * wrong, running again cannot fix it (never retried). */
bool weft_bad_input(weft_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a failure a retry may fix (`retry:` in the workflow). */
bool weft_failed(weft_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- Inputs and outputs ----------------------------------------------------------------- */

/* All bytes of the input bound to `port`, in a malloc'd buffer the caller frees, followed by
 * a NUL (not counted in `*len`) so text can be used as a C string. A port the step did not
 * declare, or one not bound, is bad-input; a failure while reading is failed. */
bool weft_read_bytes(const char *port, char **data, size_t *len, weft_error_t *err);

/* Writes `len` bytes as the output `port`, once. A port the step did not declare, or one
 * written already, is bad-input; a failure while writing is failed. Nothing is visible to
 * other steps unless run() returns true. */
bool weft_write_bytes(const char *port, const char *data, size_t len, weft_error_t *err);

/* Writes the C string `text` as the output `port`. */
bool weft_write_text(const char *port, const char *text, weft_error_t *err);

/* --- Logs and metrics ------------------------------------------------------------------- */

/* Appends a formatted message (at most 1 KiB) to the step's log at `level` (WEFT_LOG_INFO,
 * ...). The host keeps at most 10,000 lines and 1 MiB of a step's log. */
void weft_log(weft_step_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the number `value` as the metric `name` of this execution (again: replaces). */
void weft_metric(const char *name, double value);

#endif
