/* Native tests of the drift step's logic and the SDK's JSON reader; prints a closing
 * `N passed, M failed` line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psi.h"
#include "weft_json.h"

static int passed, failed;

#define CHECK(cond)                                                   \
    do {                                                              \
        if (cond) {                                                   \
            passed++;                                                 \
        } else {                                                      \
            failed++;                                                 \
            fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                             \
    } while (0)

static void test_psi(void) {
    double a[100], b[100], shifted[100];
    for (int i = 0; i < 100; i++) {
        a[i] = i;
        b[i] = 99 - i;
        shifted[i] = i + 50;
    }
    CHECK(fabs(psi(a, 100, b, 100, 10)) < 1e-12); /* same distribution */
    double p = psi(a, 100, shifted, 100, 10);
    /* Bins 0-4 fall to the floor share, bins 5-8 keep 10%, bin 9 takes 60%. */
    double expected = 5 * (1e-4 - 0.1) * log(1e-4 / 0.1) + (0.6 - 0.1) * log(0.6 / 0.1);
    CHECK(fabs(p - expected) < 1e-9);
    CHECK(p > 0.25);
    CHECK(psi(a, 0, b, 100, 10) < 0);
    double constant[3] = {1, 1, 1};
    CHECK(fabs(psi(constant, 3, constant, 3, 10)) < 1e-12);
}

static void test_json_and_table(void) {
    const char *doc = "{\"columns\":[{\"name\":\"x\",\"type\":\"float\",\"values\":[1.5,null,-2e3]},"
                      "{\"name\":\"s\",\"type\":\"string\",\"values\":[\"a\\\"b\",\"\\u00e9\",null]}]}";
    char err[128];
    wj_value *t = wj_parse(doc, strlen(doc), err, sizeof err);
    CHECK(t != NULL);
    if (!t) return;
    double *xs = NULL;
    size_t n = 0;
    CHECK(table_numbers(t, "x", &xs, &n));
    CHECK(n == 2 && xs[0] == 1.5 && xs[1] == -2000);
    free(xs);
    CHECK(!table_numbers(t, "s", &xs, &n)); /* text column */
    CHECK(!table_numbers(t, "nope", &xs, &n));
    const char *names[4];
    CHECK(table_numeric_columns(t, names, 4) == 1 && strcmp(names[0], "x") == 0);
    const wj_value *cols = wj_get(t, "columns");
    CHECK(strcmp(wj_get(&cols->items[1], "values")->items[0].string, "a\"b") == 0);
    CHECK(strcmp(wj_get(&cols->items[1], "values")->items[1].string, "\xc3\xa9") == 0);
    wj_free(t);

    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "nul", "[1] x", "\"\\q\"", "[1e999]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wj_value *v = wj_parse(bad[i], strlen(bad[i]), err, sizeof err);
        CHECK(v == NULL && strstr(err, "invalid JSON") != NULL);
        wj_free(v);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    CHECK(wj_parse(deep, sizeof deep, err, sizeof err) == NULL);

    wj_buf b = {0};
    CHECK(wj_string(&b, "q\"\\\n") && wj_printf(&b, ",%d", 7));
    CHECK(strcmp(b.data, "\"q\\\"\\\\\\u000a\",7") == 0);
    free(b.data);
}

int main(void) {
    test_psi();
    test_json_and_table();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
