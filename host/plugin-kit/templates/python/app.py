"""Weft step `__NAME__` (Python): counts the lines, words and bytes of a text."""

import weft_step as w
from counting import count


class Step:
    def describe(self):
        return w.info(
            "__NAME__",
            "0.1.0",
            "Counts the lines, words and bytes of a text.",
            inputs=[w.port("text", "text/*", "The text to count")],
            outputs=[w.port("counts", "application/json", "{lines, words, bytes}")],
            params=[w.param("min_word_length", "int", 1, "Shortest run of non-space characters counted as a word")],
        )

    def run(self, params):
        p = w.params_dict(params)
        raw = w.read_bytes("text")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise w.bad_input(f"input `text` is not UTF-8: {e}")
        counts = count(text, p["min_word_length"])
        w.metric("lines", counts["lines"])
        w.metric("words", counts["words"])
        w.write_json("counts", counts)
