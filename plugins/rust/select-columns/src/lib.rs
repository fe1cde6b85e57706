//! Weft step `select-columns`: keeps (or drops) named columns of a Weft table.

use weft_step::table::Table;
use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct SelectColumns;

impl Guest for SelectColumns {
    fn describe() -> StepInfo {
        StepInfo {
            name: "select-columns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Keeps the named columns, in the order given; with `drop: true`, removes them instead.".into(),
            inputs: vec![port("table", weft_step::table::MEDIA_TYPE, "Input table")],
            outputs: vec![port(
                "table",
                weft_step::table::MEDIA_TYPE,
                "Table with the selected columns",
            )],
            params: vec![
                param("columns", ParamType::Str, None, "Comma-separated column names"),
                param(
                    "drop",
                    ParamType::Boolean,
                    Some(ParamValue::Boolean(false)),
                    "Remove the named columns instead of keeping them",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let params = weft_step::params::Params(params);
        let table = Table::from_json(&io::read_bytes("table")?).map_err(bad_input)?;
        let out = select(table, &params.str("columns")?, params.bool("drop")?).map_err(bad_input)?;
        io::write_json("table", &out)
    }
}

weft_step::export!(SelectColumns);

/// Keeps the columns named in `spec` (comma-separated) in that order, or drops them.
pub fn select(table: Table, spec: &str, drop: bool) -> Result<Table, String> {
    let names: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err("`columns` names no column".into());
    }
    let available: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if let Some(missing) = names.iter().find(|n| !available.contains(n)) {
        return Err(format!("no column `{missing}`; columns are: {}", available.join(", ")));
    }
    let columns = if drop {
        table
            .columns
            .into_iter()
            .filter(|c| !names.contains(&c.name.as_str()))
            .collect()
    } else {
        let mut by_name = table.columns;
        names
            .iter()
            .filter_map(|n| {
                by_name
                    .iter()
                    .position(|c| c.name == *n)
                    .map(|i| by_name.swap_remove(i))
            })
            .collect()
    };
    Ok(Table { columns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_step::table::{Column, ColumnType};

    fn table() -> Table {
        let col = |n: &str| Column {
            name: n.into(),
            ty: ColumnType::Int,
            values: vec![],
        };
        Table {
            columns: vec![col("a"), col("b"), col("c")],
        }
    }

    fn names(t: &Table) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn keeps_in_given_order() {
        assert_eq!(names(&select(table(), "c, a", false).expect("ok")), ["c", "a"]);
    }

    #[test]
    fn drops() {
        assert_eq!(names(&select(table(), "b", true).expect("ok")), ["a", "c"]);
    }

    #[test]
    fn unknown_column_is_bad_input() {
        assert!(select(table(), "z", false).expect_err("unknown").contains("a, b, c"));
    }
}
