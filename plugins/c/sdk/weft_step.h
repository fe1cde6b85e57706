/* Guest-side helpers for Weft steps written in C: declarations, parameters, errors,
 * chunked artifact IO, logs and metrics over the bindings generated from wit/. */
#ifndef WEFT_STEP_H
#define WEFT_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "step_component.h"

#define WEFT_TABLE "application/vnd.weft.table+json"

typedef weft_step_types_step_error_t weft_error_t;

/* A port declaration (strings are copied, as the host frees what describe() returns). */
weft_step_types_port_t weft_port(const char *name, const char *media_type, const char *description, bool many);

/* Parameter declarations with a default. */
weft_step_types_param_spec_t weft_param_int(const char *name, int64_t dflt, const char *description);
weft_step_types_param_spec_t weft_param_float(const char *name, double dflt, const char *description);
weft_step_types_param_spec_t weft_param_str(const char *name, const char *dflt, const char *description);

/* Copies a C string into a WIT string. */
step_component_string_t weft_str(const char *s);

/* A parameter passed to run(), or NULL. */
const weft_step_types_param_value_t *weft_param(const exports_weft_step_step_list_param_t *params, const char *name);

/* Fills `err` (bad_input: not retried) with a formatted message; returns false, so
 * `return weft_fail(err, true, "...")` ends run(). */
bool weft_fail(weft_error_t *err, bool bad_input, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads all of input `port` into a malloc'd buffer (NUL-terminated for convenience). */
bool weft_read_all(const char *port, char **data, size_t *len, weft_error_t *err);

/* Writes `len` bytes as output `port`. */
bool weft_write_all(const char *port, const char *data, size_t len, weft_error_t *err);

/* Records a metric. */
void weft_metric(const char *name, double value);

/* Logs at info level. */
void weft_log_info(const char *message);

#endif
