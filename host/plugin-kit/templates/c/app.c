/* Weft step `__NAME__` (C): counts the lines, words and bytes of a text. */
#include <stdio.h>
#include <stdlib.h>

#include "counting.h"
#include "weft_step.h"

void exports_weft_step_step_describe(exports_weft_step_step_step_info_t *ret) {
    ret->name = weft_str("__NAME__");
    ret->version = weft_str("0.1.0");
    ret->description = weft_str("Counts the lines, words and bytes of a text.");
    ret->inputs.len = 1;
    ret->inputs.ptr = malloc(sizeof(weft_step_types_port_t));
    ret->inputs.ptr[0] = weft_port("text", "text/*", "The text to count", false);
    ret->outputs.len = 1;
    ret->outputs.ptr = malloc(sizeof(weft_step_types_port_t));
    ret->outputs.ptr[0] = weft_port("counts", "application/json", "{lines, words, bytes}", false);
    ret->params.len = 1;
    ret->params.ptr = malloc(sizeof(weft_step_types_param_spec_t));
    ret->params.ptr[0] = weft_param_int("min_word_length", 1, "Shortest run of non-space characters counted as a word");
}

bool exports_weft_step_step_run(weft_params_t *params, weft_error_t *err) {
    int64_t min_word_length;
    if (!weft_get_int(params, "min_word_length", &min_word_length, err)) return false;
    char *text = NULL;
    size_t len = 0;
    if (!weft_read_bytes("text", &text, &len, err)) return false;
    counts_t c = count(text, len, min_word_length > 0 ? (size_t)min_word_length : 1);
    free(text);
    weft_metric("lines", (double)c.lines);
    weft_metric("words", (double)c.words);
    char json[160];
    snprintf(json, sizeof json, "{\"lines\":%zu,\"words\":%zu,\"bytes\":%zu}", c.lines, c.words, c.bytes);
    return weft_write_text("counts", json, err);
}
