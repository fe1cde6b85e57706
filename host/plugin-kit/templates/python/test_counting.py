"""Tests of `__NAME__`'s logic: `python3 -m unittest`."""

import unittest

from counting import count


class CountTest(unittest.TestCase):
    def test_counts(self):
        self.assertEqual(count("a bb\nccc\n"), {"lines": 2, "words": 3, "bytes": 9})
        self.assertEqual(count("a bb ccc", 2)["words"], 2)
        self.assertEqual(count(""), {"lines": 0, "words": 0, "bytes": 0})


if __name__ == "__main__":
    unittest.main()
