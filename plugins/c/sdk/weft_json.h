/* A small, strict JSON reader for Weft's C steps: parses a document into a tree of
 * values (no host imports, so it also builds natively for tests). */
#ifndef WEFT_JSON_H
#define WEFT_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { WJ_NULL, WJ_BOOL, WJ_NUMBER, WJ_STRING, WJ_ARRAY, WJ_OBJECT } wj_kind;

typedef struct wj_value {
    wj_kind kind;
    bool boolean;
    double number;
    char *string;            /* WJ_STRING: NUL-terminated, unescaped */
    struct wj_value *items;  /* WJ_ARRAY: elements; WJ_OBJECT: values */
    char **keys;             /* WJ_OBJECT: keys, parallel to items */
    size_t len;
} wj_value;

/* Parses `len` bytes. Returns NULL and writes a message to `err` (size `err_len`) on error. */
wj_value *wj_parse(const char *text, size_t len, char *err, size_t err_len);

/* Frees a tree returned by wj_parse. */
void wj_free(wj_value *v);

/* The member `key` of an object, or NULL. */
const wj_value *wj_get(const wj_value *object, const char *key);

/* Appends to a growing string buffer; returns false when out of memory. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} wj_buf;
bool wj_printf(wj_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string literal (quoted and escaped). */
bool wj_string(wj_buf *b, const char *s);

#endif
