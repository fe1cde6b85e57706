"""Tests of validate-table's checks (plain Python: `python3 -m unittest`)."""

import unittest

from checks import check


def table(**columns):
    return {"columns": [{"name": n, "type": "float", "values": v} for n, v in columns.items()]}


class ChecksTest(unittest.TestCase):
    def test_valid_table(self):
        report, problems = check(table(a=[1, 2, 3], b=[1, None, 3]), ["a"], 0.5, 2)
        self.assertEqual(problems, [])
        self.assertTrue(report["valid"])
        self.assertEqual(report["rows"], 3)
        self.assertAlmostEqual(report["missing_fraction"], 1 / 6)

    def test_every_problem_is_listed(self):
        _, problems = check(table(a=[1, None], b=[1]), ["a", "c"], 0.0, 5)
        text = " | ".join(problems)
        self.assertIn("different lengths", text)
        self.assertIn("required column `c` is missing", text)
        self.assertIn("fewer than the 5 required", text)
        self.assertIn("column `a` is 50.0% missing", text)

    def test_not_a_table(self):
        report, problems = check({"rows": []}, [], 0.0, 0)
        self.assertIsNone(report)
        self.assertIn("not a Weft table", problems[0])
        for not_an_object in ([], "columns", 3, None):
            report, problems = check(not_an_object, [], 0.0, 0)
            self.assertIsNone(report)
            self.assertIn("not a JSON object", problems[0])


if __name__ == "__main__":
    unittest.main()
