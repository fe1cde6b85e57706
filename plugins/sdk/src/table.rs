//! The standard table format exchanged by Weft's data steps: column-oriented JSON with a
//! type per column, media type [`MEDIA_TYPE`]. Missing values are `null`.

use serde::{Deserialize, Serialize};

/// Media type of a serialized [`Table`].
pub const MEDIA_TYPE: &str = "application/vnd.weft.table+json";

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Whole numbers.
    Int,
    /// Real numbers.
    Float,
    /// Text.
    String,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Column name (CSV header).
    pub name: String,
    /// Type of every non-missing value.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Values; `None` is missing. Numbers are kept as JSON numbers, text as strings.
    pub values: Vec<Option<Value>>,
}

/// One cell value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer cell.
    Int(i64),
    /// A float cell.
    Float(f64),
    /// A text cell.
    Str(String),
}

impl Value {
    /// The value as a float, for numeric columns.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => None,
        }
    }

    /// The value rendered as text.
    pub fn render(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
        }
    }
}

/// A typed, column-oriented table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Table {
    /// Columns, all of the same length.
    pub columns: Vec<Column>,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// Finds a column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A new table with only the rows at `indices`, in that order.
    pub fn take_rows(&self, indices: &[usize]) -> Table {
        Table {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ty: c.ty,
                    values: indices.iter().map(|&i| c.values[i].clone()).collect(),
                })
                .collect(),
        }
    }

    /// Parses a serialized table, checking that every column has the same length.
    pub fn from_json(bytes: &[u8]) -> Result<Table, String> {
        let t: Table = serde_json::from_slice(bytes).map_err(|e| format!("not a Weft table: {e}"))?;
        let n = t.rows();
        if let Some(c) = t.columns.iter().find(|c| c.values.len() != n) {
            return Err(format!(
                "column `{}` has {} values, expected {n}",
                c.name,
                c.values.len()
            ));
        }
        Ok(t)
    }
}
