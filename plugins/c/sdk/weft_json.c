/* A small, strict JSON reader and writer helpers for Weft's C steps. */
#include "weft_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WJ_MAX_DEPTH 64

typedef struct {
    const char *s;
    size_t len, pos;
    char *err;
    size_t err_len;
    int depth;
} parser;

static bool fail(parser *p, const char *what) {
    if (p->err && p->err_len) snprintf(p->err, p->err_len, "invalid JSON at byte %zu: %s", p->pos, what);
    return false;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r' || p->s[p->pos] == '\t'))
        p->pos++;
}

static bool parse_value(parser *p, wj_value *out);

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool parse_string(parser *p, char **out) {
    p->pos++; /* opening quote */
    char *buf = malloc(p->len - p->pos + 1);
    if (!buf) return fail(p, "out of memory");
    size_t n = 0;
    while (p->pos < p->len) {
        char c = p->s[p->pos++];
        if (c == '"') {
            buf[n] = 0;
            *out = buf;
            return true;
        }
        if ((unsigned char)c < 0x20) break;
        if (c != '\\') {
            buf[n++] = c;
            continue;
        }
        if (p->pos >= p->len) break;
        char e = p->s[p->pos++];
        switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                if (p->pos + 4 > p->len) goto bad;
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hex(p->s[p->pos++]);
                    if (h < 0) goto bad;
                    cp = cp * 16 + (unsigned)h;
                }
                /* Basic multilingual plane only; surrogate pairs are kept as U+FFFD. */
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                if (cp < 0x80) {
                    buf[n++] = (char)cp;
                } else if (cp < 0x800) {
                    buf[n++] = (char)(0xC0 | (cp >> 6));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    buf[n++] = (char)(0xE0 | (cp >> 12));
                    buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: goto bad;
        }
    }
bad:
    free(buf);
    return fail(p, "bad string");
}

static bool parse_number(parser *p, wj_value *out) {
    const char *start = p->s + p->pos;
    size_t i = p->pos;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !(p->s[i] >= '0' && p->s[i] <= '9')) return fail(p, "bad number");
    while (i < p->len && strchr("0123456789+-.eE", p->s[i])) i++;
    char tmp[64];
    size_t n = i - p->pos;
    if (n >= sizeof tmp) return fail(p, "number too long");
    memcpy(tmp, start, n);
    tmp[n] = 0;
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (!end || *end || !isfinite(d)) return fail(p, "bad number");
    out->kind = WJ_NUMBER;
    out->number = d;
    p->pos = i;
    return true;
}

static bool literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->pos + n > p->len || memcmp(p->s + p->pos, word, n) != 0) return fail(p, "unexpected token");
    p->pos += n;
    return true;
}

static bool push(wj_value *v, size_t *cap, bool with_key) {
    if (v->len < *cap) return true;
    size_t next = *cap ? *cap * 2 : 8;
    wj_value *items = realloc(v->items, next * sizeof *items);
    if (!items) return false;
    v->items = items;
    if (with_key) {
        char **keys = realloc(v->keys, next * sizeof *keys);
        if (!keys) return false;
        v->keys = keys;
    }
    *cap = next;
    return true;
}

static bool parse_container(parser *p, wj_value *out, bool object) {
    if (++p->depth > WJ_MAX_DEPTH) return fail(p, "nested too deeply");
    out->kind = object ? WJ_OBJECT : WJ_ARRAY;
    size_t cap = 0;
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return true;
    }
    for (;;) {
        if (!push(out, &cap, object)) return fail(p, "out of memory");
        /* Count the slot before filling it, so a failure half-way frees what was parsed. */
        size_t slot = out->len++;
        wj_value *item = &out->items[slot];
        memset(item, 0, sizeof *item);
        if (object) {
            out->keys[slot] = NULL;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, "expected a key");
            if (!parse_string(p, &out->keys[slot])) return false;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, "expected ':'");
            p->pos++;
        }
        if (!parse_value(p, item)) return false;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return true;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool parse_value(parser *p, wj_value *out) {
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, "unexpected end");
    switch (p->s[p->pos]) {
        case '{': return parse_container(p, out, true);
        case '[': return parse_container(p, out, false);
        case '"': out->kind = WJ_STRING; return parse_string(p, &out->string);
        case 't': out->kind = WJ_BOOL; out->boolean = true; return literal(p, "true");
        case 'f': out->kind = WJ_BOOL; out->boolean = false; return literal(p, "false");
        case 'n': out->kind = WJ_NULL; return literal(p, "null");
        default: return parse_number(p, out);
    }
}

static void free_inner(wj_value *v) {
    free(v->string);
    for (size_t i = 0; i < v->len; i++) {
        free_inner(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

wj_value *wj_parse(const char *text, size_t len, char *err, size_t err_len) {
    parser p = {text, len, 0, err, err_len, 0};
    wj_value *root = calloc(1, sizeof *root);
    if (!root) return NULL;
    if (!parse_value(&p, root)) {
        wj_free(root);
        return NULL;
    }
    skip_ws(&p);
    if (p.pos != len) {
        fail(&p, "trailing characters");
        wj_free(root);
        return NULL;
    }
    return root;
}

void wj_free(wj_value *v) {
    if (!v) return;
    free_inner(v);
    free(v);
}

const wj_value *wj_get(const wj_value *object, const char *key) {
    if (!object || object->kind != WJ_OBJECT) return NULL;
    for (size_t i = 0; i < object->len; i++)
        if (object->keys[i] && strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

bool wj_printf(wj_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) return false;
        b->data = data;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

bool wj_string(wj_buf *b, const char *s) {
    if (!wj_printf(b, "\"")) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = c == '"' ? wj_printf(b, "\\\"")
                  : c == '\\' ? wj_printf(b, "\\\\")
                  : c < 0x20 ? wj_printf(b, "\\u%04x", c)
                             : wj_printf(b, "%c", c);
        if (!ok) return false;
    }
    return wj_printf(b, "\"");
}
