//! Weft step `csv-to-table`: parses CSV into a typed Weft table, inferring each column's type.

use weft_step::table::{Column, ColumnType, Table, Value};
use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, metric, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct CsvToTable;

impl Guest for CsvToTable {
    fn describe() -> StepInfo {
        StepInfo {
            name: "csv-to-table".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Parses a CSV file with a header row into a typed table. A column is int if every \
                          present value is an integer, float if every one is a number, string otherwise."
                .into(),
            inputs: vec![port("csv", "text/csv", "CSV text with a header row")],
            outputs: vec![port("table", weft_step::table::MEDIA_TYPE, "The typed table")],
            params: vec![
                param(
                    "delimiter",
                    ParamType::Str,
                    Some(ParamValue::Str(",".into())),
                    "Field separator (one character)",
                ),
                param(
                    "missing",
                    ParamType::Str,
                    Some(ParamValue::Str("NA,N/A,null".into())),
                    "Comma-separated cell texts read as missing, besides the empty cell",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let params = weft_step::params::Params(params);
        let delimiter = params.str("delimiter")?;
        let missing = params.str("missing")?;
        let text = io::read_bytes("csv")?;
        let table = parse(&text, &delimiter, &missing).map_err(bad_input)?;
        #[allow(clippy::cast_precision_loss)]
        {
            metric("rows", table.rows() as f64);
            metric("columns", table.columns.len() as f64);
        }
        io::write_json("table", &table)
    }
}

weft_step::export!(CsvToTable);

/// Parses CSV bytes into a typed table.
pub fn parse(bytes: &[u8], delimiter: &str, missing: &str) -> Result<Table, String> {
    let &[delim] = delimiter.as_bytes() else {
        return Err(format!("delimiter must be one ASCII character, got `{delimiter}`"));
    };
    let missing: Vec<&str> = missing.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().any(String::is_empty) {
        return Err("the header row has an empty column name".into());
    }
    if let Some(dup) = headers.iter().enumerate().find(|(i, h)| headers[..*i].contains(h)) {
        return Err(format!("column `{}` appears twice in the header", dup.1));
    }
    let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); headers.len()];
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        if record.len() != headers.len() {
            return Err(format!(
                "row {} has {} fields, the header has {}",
                i + 2,
                record.len(),
                headers.len()
            ));
        }
        for (col, field) in record.iter().enumerate() {
            let f = field.trim();
            cells[col].push((!f.is_empty() && !missing.contains(&f)).then(|| f.to_string()));
        }
    }
    let columns = headers
        .into_iter()
        .zip(cells)
        .map(|(name, raw)| typed_column(name, raw))
        .collect();
    Ok(Table { columns })
}

fn typed_column(name: String, raw: Vec<Option<String>>) -> Column {
    let present = || raw.iter().flatten();
    let ty = if present().all(|v| v.parse::<i64>().is_ok()) && present().next().is_some() {
        ColumnType::Int
    } else if present().all(|v| v.parse::<f64>().is_ok()) && present().next().is_some() {
        ColumnType::Float
    } else {
        ColumnType::String
    };
    let values = raw
        .into_iter()
        .map(|v| {
            v.map(|v| match ty {
                ColumnType::Int => v.parse().map_or(Value::Str(v), Value::Int),
                ColumnType::Float => v.parse().map_or(Value::Str(v), Value::Float),
                ColumnType::String => Value::Str(v),
            })
        })
        .collect();
    Column { name, ty, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_types_and_missing() {
        let t = parse(b"a,b,c\n1,2.5,x\n2,,\"y, z\"\nNA,3,w\n", ",", "NA").expect("valid");
        assert_eq!(t.rows(), 3);
        assert_eq!(t.columns[0].ty, ColumnType::Int);
        assert_eq!(
            t.columns[0].values,
            vec![Some(Value::Int(1)), Some(Value::Int(2)), None]
        );
        assert_eq!(t.columns[1].ty, ColumnType::Float);
        assert_eq!(t.columns[2].values[1], Some(Value::Str("y, z".into())));
    }

    #[test]
    fn rejects_ragged_rows_and_bad_headers() {
        assert!(parse(b"a,b\n1\n", ",", "").expect_err("ragged").contains("row 2"));
        assert!(parse(b"a,a\n1,2\n", ",", "").expect_err("dup").contains("twice"));
        assert!(parse(b"a;b\n1;2\n", ";;", "").expect_err("delim").contains("one ASCII"));
    }
}
