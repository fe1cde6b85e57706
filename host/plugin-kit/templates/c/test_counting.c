/* Native tests of `__NAME__`'s logic; prints a closing `N passed, M failed` line. */
#include <stdio.h>
#include <string.h>

#include "counting.h"

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAILED: %s\n", what);
    }
}

int main(void) {
    const char *t = "a bb\nccc\n";
    counts_t c = count(t, strlen(t), 1);
    check(c.lines == 2 && c.words == 3 && c.bytes == 9, "a bb\\nccc\\n");
    check(count("a bb ccc", 8, 2).words == 2, "min word length");
    counts_t e = count("", 0, 1);
    check(e.lines == 0 && e.words == 0 && e.bytes == 0, "empty");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
