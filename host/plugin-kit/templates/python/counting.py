"""Pure logic of `__NAME__` (no host imports: `python3 -m unittest` runs it natively)."""


def count(text, min_word_length=1):
    """Lines, words (at least `min_word_length` characters) and UTF-8 bytes of `text`."""
    return {
        "lines": len(text.splitlines()),
        "words": sum(1 for word in text.split() if len(word) >= min_word_length),
        "bytes": len(text.encode("utf-8")),
    }
