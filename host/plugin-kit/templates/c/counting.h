/* Pure logic of `__NAME__` (no host imports: its tests build natively). */
#ifndef COUNTING_H
#define COUNTING_H

#include <stddef.h>

typedef struct {
    size_t lines, words, bytes;
} counts_t;

/* Lines (a last line without a newline counts), words of at least `min_word_length`
 * bytes, and bytes of `text`. */
counts_t count(const char *text, size_t len, size_t min_word_length);

#endif
