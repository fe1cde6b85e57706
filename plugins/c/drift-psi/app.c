/* Weft step `drift-psi` (C): population stability index of every numeric column between a
 * reference table (e.g. the training data) and a current one (e.g. new data to predict on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psi.h"
#include "weft_json.h"
#include "weft_step.h"

#define MAX_COLUMNS 1024

void exports_weft_step_step_describe(exports_weft_step_step_step_info_t *ret) {
    ret->name = weft_str("drift-psi");
    ret->version = weft_str("0.1.0");
    ret->description = weft_str(
        "Population stability index (PSI) of every numeric column of the reference table against the current "
        "table, over equal-width bins spanning the reference's range. PSI above the threshold (0.2 is the usual "
        "'significant shift') marks the column as drifted.");
    ret->inputs.len = 2;
    ret->inputs.ptr = malloc(2 * sizeof(weft_step_types_port_t));
    ret->inputs.ptr[0] = weft_port("reference", WEFT_TABLE, "The data the model was fitted on", false);
    ret->inputs.ptr[1] = weft_port("current", WEFT_TABLE, "The data to compare", false);
    ret->outputs.len = 1;
    ret->outputs.ptr = malloc(sizeof(weft_step_types_port_t));
    ret->outputs.ptr[0] = weft_port("report", "application/json", "PSI per column, the largest, the drifted columns", false);
    ret->params.len = 2;
    ret->params.ptr = malloc(2 * sizeof(weft_step_types_param_spec_t));
    ret->params.ptr[0] = weft_param_int("bins", 10, "Number of equal-width bins");
    ret->params.ptr[1] = weft_param_float("threshold", 0.2, "PSI above which a column counts as drifted");
}

static wj_value *read_table(const char *port, weft_error_t *err) {
    char *data = NULL;
    size_t len = 0;
    if (!weft_read_bytes(port, &data, &len, err)) return NULL;
    char msg[160];
    wj_value *t = wj_parse(data, len, msg, sizeof msg);
    free(data);
    if (!t) weft_bad_input(err, "input `%s`: %s", port, msg);
    return t;
}

bool exports_weft_step_step_run(weft_params_t *params, weft_error_t *err) {
    int64_t bins;
    double threshold;
    if (!weft_get_int(params, "bins", &bins, err) || !weft_get_float(params, "threshold", &threshold, err)) return false;
    if (bins < 1 || bins > 10000) return weft_bad_input(err, "bins must be between 1 and 10000, got %lld", (long long)bins);

    bool ok = false;
    wj_value *reference = read_table("reference", err), *current = NULL;
    wj_buf out = {0};
    if (!reference || !(current = read_table("current", err))) goto done;
    const char *names[MAX_COLUMNS];
    size_t n = table_numeric_columns(reference, names, MAX_COLUMNS);
    if (n == 0) {
        weft_bad_input(err, "the reference table has no numeric column");
        goto done;
    }
    double max_psi = 0, values[MAX_COLUMNS];
    int drifted = 0;
    wj_printf(&out, "{\"bins\":%lld,\"threshold\":%.17g,\"columns\":{", (long long)bins, threshold);
    for (size_t i = 0; i < n; i++) {
        double *r = NULL, *c = NULL;
        size_t nr = 0, nc = 0;
        table_numbers(reference, names[i], &r, &nr);
        if (!table_numbers(current, names[i], &c, &nc)) {
            free(r);
            weft_bad_input(err, "the current table has no numeric column `%s`", names[i]);
            goto done;
        }
        double p = psi(r, nr, c, nc, (int)bins);
        free(r);
        free(c);
        if (p < 0) {
            weft_bad_input(err, "column `%s` has no values in one of the tables", names[i]);
            goto done;
        }
        values[i] = p;
        if (p > max_psi) max_psi = p;
        if (p > threshold) drifted++;
        char metric_name[300];
        snprintf(metric_name, sizeof metric_name, "psi.%s", names[i]);
        weft_metric(metric_name, p);
        wj_printf(&out, "%s", i ? "," : "");
        wj_string(&out, names[i]);
        wj_printf(&out, ":%.17g", p);
    }
    wj_printf(&out, "},\"max_psi\":%.17g,\"drifted\":[", max_psi);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (values[i] > threshold) {
            wj_printf(&out, "%s", k++ ? "," : "");
            wj_string(&out, names[i]);
        }
    }
    if (!wj_printf(&out, "]}")) {
        weft_failed(err, "out of memory");
        goto done;
    }
    weft_metric("psi_max", max_psi);
    weft_metric("columns_drifted", drifted);
    ok = weft_write_bytes("report", out.data, out.len, err);
done:
    free(out.data);
    wj_free(reference);
    wj_free(current);
    return ok;
}
