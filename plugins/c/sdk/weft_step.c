/* Guest-side helpers for Weft steps written in C (wasm only: they call host imports). */
#include "weft_step.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (256 * 1024)

step_component_string_t weft_str(const char *s) {
    step_component_string_t out;
    step_component_string_dup(&out, s);
    return out;
}

weft_step_types_port_t weft_port(const char *name, const char *media_type, const char *description, bool many) {
    weft_step_types_port_t p = {weft_str(name), weft_str(media_type), weft_str(description), many};
    return p;
}

static weft_step_types_param_spec_t spec(const char *name, weft_step_types_param_type_t ty, const char *description) {
    weft_step_types_param_spec_t s;
    memset(&s, 0, sizeof s);
    s.name = weft_str(name);
    s.ty = ty;
    s.description = weft_str(description);
    s.default_.is_some = true;
    return s;
}

weft_step_types_param_spec_t weft_param_int(const char *name, int64_t dflt, const char *description) {
    weft_step_types_param_spec_t s = spec(name, WEFT_STEP_TYPES_PARAM_TYPE_INT, description);
    s.default_.val.tag = WEFT_STEP_TYPES_PARAM_VALUE_INT;
    s.default_.val.val.int_ = dflt;
    return s;
}

weft_step_types_param_spec_t weft_param_float(const char *name, double dflt, const char *description) {
    weft_step_types_param_spec_t s = spec(name, WEFT_STEP_TYPES_PARAM_TYPE_FLOAT, description);
    s.default_.val.tag = WEFT_STEP_TYPES_PARAM_VALUE_FLOAT;
    s.default_.val.val.float_ = dflt;
    return s;
}

weft_step_types_param_spec_t weft_param_str(const char *name, const char *dflt, const char *description) {
    weft_step_types_param_spec_t s = spec(name, WEFT_STEP_TYPES_PARAM_TYPE_STR, description);
    s.default_.val.tag = WEFT_STEP_TYPES_PARAM_VALUE_STR;
    s.default_.val.val.str = weft_str(dflt);
    return s;
}

weft_step_types_param_spec_t weft_param_bool(const char *name, bool dflt, const char *description) {
    weft_step_types_param_spec_t s = spec(name, WEFT_STEP_TYPES_PARAM_TYPE_BOOLEAN, description);
    s.default_.val.tag = WEFT_STEP_TYPES_PARAM_VALUE_BOOLEAN;
    s.default_.val.val.boolean = dflt;
    return s;
}

weft_step_types_param_spec_t weft_param_required(const char *name, weft_step_types_param_type_t type,
                                                 const char *description) {
    weft_step_types_param_spec_t s = spec(name, type, description);
    s.default_.is_some = false;
    return s;
}

static void set_error(weft_error_t *err, bool bad_input, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    err->tag = bad_input ? WEFT_STEP_TYPES_STEP_ERROR_BAD_INPUT : WEFT_STEP_TYPES_STEP_ERROR_FAILED;
    step_component_string_dup(bad_input ? &err->val.bad_input : &err->val.failed, msg);
}

bool weft_bad_input(weft_error_t *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(err, true, fmt, ap);
    va_end(ap);
    return false;
}

bool weft_failed(weft_error_t *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(err, false, fmt, ap);
    va_end(ap);
    return false;
}

/* The value of parameter `name` if it was passed with type `tag`, else NULL with `err` set. */
static const weft_step_types_param_value_t *param_of(const weft_params_t *params, const char *name, uint8_t tag,
                                                      const char *type_name, weft_error_t *err) {
    size_t n = strlen(name);
    for (size_t i = 0; i < params->len; i++) {
        const step_component_string_t *pn = &params->ptr[i].name;
        if (pn->len == n && memcmp(pn->ptr, name, n) == 0) {
            if (params->ptr[i].value.tag == tag) return &params->ptr[i].value;
            weft_bad_input(err, "parameter `%s` is not of type %s", name, type_name);
            return NULL;
        }
    }
    weft_bad_input(err, "parameter `%s` was not passed", name);
    return NULL;
}

bool weft_get_str(const weft_params_t *params, const char *name, char **out, weft_error_t *err) {
    const weft_step_types_param_value_t *v = param_of(params, name, WEFT_STEP_TYPES_PARAM_VALUE_STR, "str", err);
    if (!v) return false;
    char *copy = malloc(v->val.str.len + 1);
    if (!copy) return weft_failed(err, "out of memory reading parameter `%s`", name);
    memcpy(copy, v->val.str.ptr, v->val.str.len);
    copy[v->val.str.len] = 0;
    *out = copy;
    return true;
}

bool weft_get_int(const weft_params_t *params, const char *name, int64_t *out, weft_error_t *err) {
    const weft_step_types_param_value_t *v = param_of(params, name, WEFT_STEP_TYPES_PARAM_VALUE_INT, "int", err);
    if (!v) return false;
    *out = v->val.int_;
    return true;
}

bool weft_get_float(const weft_params_t *params, const char *name, double *out, weft_error_t *err) {
    const weft_step_types_param_value_t *v = param_of(params, name, WEFT_STEP_TYPES_PARAM_VALUE_FLOAT, "float", err);
    if (!v) return false;
    *out = v->val.float_;
    return true;
}

bool weft_get_bool(const weft_params_t *params, const char *name, bool *out, weft_error_t *err) {
    const weft_step_types_param_value_t *v =
        param_of(params, name, WEFT_STEP_TYPES_PARAM_VALUE_BOOLEAN, "bool", err);
    if (!v) return false;
    *out = v->val.boolean;
    return true;
}

/* Opening an input or creating an output fails when the step names a port it did not
 * declare or that is not bound: a bug in the step, reported as bad-input (never retried);
 * a failure while reading or writing is `failed` (the host blames a failing store itself). */
static bool take_err(step_component_string_t *e, weft_error_t *err, const char *what, const char *port) {
    bool misuse = strncmp(what, "open", 4) == 0 || strncmp(what, "create", 6) == 0;
    const char *fmt = "%s `%s`: %.*s";
    bool r = misuse ? weft_bad_input(err, fmt, what, port, (int)e->len, (const char *)e->ptr)
                    : weft_failed(err, fmt, what, port, (int)e->len, (const char *)e->ptr);
    step_component_string_free(e);
    return r;
}

bool weft_read_bytes(const char *port, char **data, size_t *len, weft_error_t *err) {
    step_component_string_t name = weft_str(port), e;
    weft_step_artifacts_own_reader_t reader;
    bool ok = weft_step_artifacts_open(&name, &reader, &e);
    step_component_string_free(&name);
    if (!ok) return take_err(&e, err, "open input", port);
    weft_step_artifacts_borrow_reader_t r = weft_step_artifacts_borrow_reader(reader);
    size_t cap = (size_t)weft_step_artifacts_method_reader_size(r) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        weft_step_artifacts_reader_drop_own(reader);
        return weft_failed(err, "out of memory reading `%s`", port);
    }
    for (;;) {
        step_component_list_u8_t chunk;
        if (!weft_step_artifacts_method_reader_read(r, CHUNK, &chunk, &e)) {
            free(buf);
            weft_step_artifacts_reader_drop_own(reader);
            return take_err(&e, err, "read input", port);
        }
        if (chunk.len == 0) break;
        if (n + chunk.len + 1 > cap) {
            cap = (n + chunk.len + 1) * 2;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                step_component_list_u8_free(&chunk);
                weft_step_artifacts_reader_drop_own(reader);
                return weft_failed(err, "out of memory reading `%s`", port);
            }
            buf = grown;
        }
        memcpy(buf + n, chunk.ptr, chunk.len);
        n += chunk.len;
        step_component_list_u8_free(&chunk);
    }
    weft_step_artifacts_reader_drop_own(reader);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return true;
}

bool weft_write_bytes(const char *port, const char *data, size_t len, weft_error_t *err) {
    step_component_string_t name = weft_str(port), e;
    weft_step_artifacts_own_writer_t writer;
    bool ok = weft_step_artifacts_create(&name, &writer, &e);
    step_component_string_free(&name);
    if (!ok) return take_err(&e, err, "create output", port);
    weft_step_artifacts_borrow_writer_t w = weft_step_artifacts_borrow_writer(writer);
    for (size_t at = 0; at < len; at += CHUNK) {
        step_component_list_u8_t chunk = {(uint8_t *)data + at, len - at < CHUNK ? len - at : CHUNK};
        if (!weft_step_artifacts_method_writer_write(w, &chunk, &e)) {
            weft_step_artifacts_writer_drop_own(writer);
            return take_err(&e, err, "write output", port);
        }
    }
    weft_step_artifacts_writer_drop_own(writer);
    return true;
}

void weft_metric(const char *name, double value) {
    step_component_string_t n;
    step_component_string_set(&n, name);
    weft_step_metrics_record(&n, value);
}

bool weft_write_text(const char *port, const char *text, weft_error_t *err) {
    return weft_write_bytes(port, text, strlen(text), err);
}

void weft_log(weft_step_log_level_t level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    step_component_string_t m;
    step_component_string_set(&m, msg);
    weft_step_log_emit(level, &m);
}
