/* Population stability index and the Weft-table access the drift step needs. */
#include "psi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_SHARE 1e-4

static void shares(const double *xs, size_t n, double lo, double width, int bins, double *out) {
    for (int b = 0; b < bins; b++) out[b] = 0;
    for (size_t i = 0; i < n; i++) {
        int b = width > 0 ? (int)floor((xs[i] - lo) / width) : 0;
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        out[b] += 1;
    }
    for (int b = 0; b < bins; b++) {
        out[b] /= (double)n;
        if (out[b] < EMPTY_SHARE) out[b] = EMPTY_SHARE;
    }
}

double psi(const double *reference, size_t n_ref, const double *current, size_t n_cur, int bins) {
    if (n_ref == 0 || n_cur == 0 || bins < 1) return -1;
    double lo = reference[0], hi = reference[0];
    for (size_t i = 1; i < n_ref; i++) {
        if (reference[i] < lo) lo = reference[i];
        if (reference[i] > hi) hi = reference[i];
    }
    double width = (hi - lo) / bins;
    double *r = malloc(sizeof(double) * (size_t)bins), *c = malloc(sizeof(double) * (size_t)bins);
    if (!r || !c) {
        free(r);
        free(c);
        return -1;
    }
    shares(reference, n_ref, lo, width, bins, r);
    shares(current, n_cur, lo, width, bins, c);
    double total = 0;
    for (int b = 0; b < bins; b++) total += (c[b] - r[b]) * log(c[b] / r[b]);
    free(r);
    free(c);
    return total;
}

static const wj_value *column(const wj_value *table, const char *name) {
    const wj_value *cols = wj_get(table, "columns");
    if (!cols || cols->kind != WJ_ARRAY) return NULL;
    for (size_t i = 0; i < cols->len; i++) {
        const wj_value *n = wj_get(&cols->items[i], "name");
        if (n && n->kind == WJ_STRING && strcmp(n->string, name) == 0) return &cols->items[i];
    }
    return NULL;
}

static bool is_numeric(const wj_value *col) {
    const wj_value *t = wj_get(col, "type");
    return t && t->kind == WJ_STRING && (strcmp(t->string, "int") == 0 || strcmp(t->string, "float") == 0);
}

bool table_numbers(const wj_value *table, const char *name, double **values, size_t *n) {
    const wj_value *col = column(table, name);
    const wj_value *vals = col ? wj_get(col, "values") : NULL;
    if (!col || !is_numeric(col) || !vals || vals->kind != WJ_ARRAY) return false;
    double *out = malloc(sizeof(double) * (vals->len ? vals->len : 1));
    if (!out) return false;
    size_t k = 0;
    for (size_t i = 0; i < vals->len; i++)
        if (vals->items[i].kind == WJ_NUMBER) out[k++] = vals->items[i].number;
    *values = out;
    *n = k;
    return true;
}

size_t table_numeric_columns(const wj_value *table, const char **names, size_t max) {
    const wj_value *cols = wj_get(table, "columns");
    size_t k = 0;
    if (!cols || cols->kind != WJ_ARRAY) return 0;
    for (size_t i = 0; i < cols->len && k < max; i++) {
        const wj_value *n = wj_get(&cols->items[i], "name");
        if (n && n->kind == WJ_STRING && is_numeric(&cols->items[i])) names[k++] = n->string;
    }
    return k;
}
