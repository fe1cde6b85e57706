"""Pure checks of a Weft table (no host imports, so they run in plain Python tests)."""


def check(table, required_columns, max_missing_fraction, min_rows):
    """Returns (report, problems) for a column-oriented table dict."""
    if not isinstance(table, dict):
        return None, ["the input is not a Weft table: not a JSON object"]
    columns = table.get("columns")
    if not isinstance(columns, list):
        return None, ["the input is not a Weft table: no `columns` list"]
    problems = []
    lengths = {len(c.get("values", [])) for c in columns}
    if len(lengths) > 1:
        problems.append(f"columns have different lengths: {sorted(lengths)}")
    rows = max(lengths) if lengths else 0
    names = [c.get("name") for c in columns]
    for name in required_columns:
        if name not in names:
            problems.append(f"required column `{name}` is missing (columns: {', '.join(map(str, names))})")
    if rows < min_rows:
        problems.append(f"{rows} rows, fewer than the {min_rows} required")
    report_columns = []
    total_missing = 0
    for c in columns:
        values = c.get("values", [])
        missing = sum(1 for v in values if v is None)
        total_missing += missing
        fraction = missing / len(values) if values else 0.0
        if fraction > max_missing_fraction:
            problems.append(
                f"column `{c.get('name')}` is {fraction:.1%} missing, more than the {max_missing_fraction:.1%} allowed"
            )
        report_columns.append({"name": c.get("name"), "type": c.get("type"), "missing": missing})
    cells = rows * len(columns)
    report = {
        "rows": rows,
        "columns": report_columns,
        "missing_fraction": (total_missing / cells) if cells else 0.0,
        "problems": problems,
        "valid": not problems,
    }
    return report, problems
