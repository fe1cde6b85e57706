/* Population stability index between a reference sample and a current sample. */
#ifndef PSI_H
#define PSI_H

#include <stdbool.h>
#include <stddef.h>

#include "weft_json.h"

/* PSI over `bins` equal-width bins spanning the reference's range (the outer bins are open,
 * so current values outside the range still count). Empty bins get a share of 1e-4 so the
 * logarithm stays finite. Returns a negative number when either sample is empty. */
double psi(const double *reference, size_t n_ref, const double *current, size_t n_cur, int bins);

/* The present (non-null) numbers of column `name` of a Weft table; `*values` is malloc'd.
 * Returns false when the table has no such numeric column. */
bool table_numbers(const wj_value *table, const char *name, double **values, size_t *n);

/* The names of the numeric (`int`/`float`) columns of a Weft table, in order. */
size_t table_numeric_columns(const wj_value *table, const char **names, size_t max);

#endif
