/* Pure logic of `__NAME__`. */
#include "counting.h"

#include <ctype.h>

counts_t count(const char *text, size_t len, size_t min_word_length) {
    counts_t c = {0, 0, len};
    size_t word = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') c.lines++;
        if (isspace(ch)) {
            if (word >= min_word_length && word > 0) c.words++;
            word = 0;
        } else {
            word++;
        }
    }
    if (word >= min_word_length && word > 0) c.words++;
    if (len > 0 && text[len - 1] != '\n') c.lines++;
    return c;
}
