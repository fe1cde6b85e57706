"""Weft step `__NAME__` (Python): counts the lines, words and bytes of a text."""

import weft_step as w
from counting import count


class Step(w.Guest):
    def describe(self):
        return w.step_info(
            "__NAME__",
            "0.1.0",
            "Counts the lines, words and bytes of a text.",
            inputs=[w.port("text", "text/*", "The text to count")],
            outputs=[w.port("counts", "application/json", "{lines, words, bytes}")],
            params=[w.param("min_word_length", "int", 1, "Shortest run of non-space characters counted as a word")],
        )

    def run(self, params):
        p = w.Params(params)
        counts = count(w.read_text("text"), p.int("min_word_length"))
        w.metric("lines", counts["lines"])
        w.metric("words", counts["words"])
        w.write_json("counts", counts)
