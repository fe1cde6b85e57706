"""Weft step `validate-table` (Python): checks a table's schema and missing values."""

import json

import weft_step as w
from checks import check


class Step(w.Guest):
    def describe(self):
        return w.step_info(
            "validate-table",
            "0.1.0",
            "Checks that required columns exist, that there are enough rows and that no column has more "
            "missing values than allowed. When the table is valid, passes it on unchanged with a report; when "
            "it is not, fails as bad input, listing every problem.",
            inputs=[w.port("table", w.TABLE, "Table to check")],
            outputs=[
                w.port("table", w.TABLE, "The same table, when valid"),
                w.port("report", "application/json", "Rows, missing values per column, problems"),
            ],
            params=[
                w.param("required_columns", "str", "", "Comma-separated columns that must exist"),
                w.param("max_missing_fraction", "float", 0.0, "Largest share of missing values per column"),
                w.param("min_rows", "int", 1, "Fewest rows accepted"),
            ],
        )

    def run(self, params):
        p = w.Params(params)
        raw = w.read_bytes("table")
        try:
            table = json.loads(raw)
        except ValueError as e:
            raise w.bad_input(f"input `table` is not JSON: {e}")
        required = [c.strip() for c in p.str("required_columns").split(",") if c.strip()]
        report, problems = check(table, required, p.float("max_missing_fraction"), p.int("min_rows"))
        if report is None:
            raise w.bad_input(problems[0])
        w.metric("rows", report["rows"])
        w.metric("missing_fraction", report["missing_fraction"])
        w.metric("problems", len(problems))
        if problems:
            raise w.bad_input("; ".join(problems))
        w.write_json("report", report)
        w.write_bytes("table", raw)
