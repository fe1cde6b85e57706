// Pure logic of the `standardize` step: fit per-column mean and scale on one table,
// apply them to others. No host imports, so `node --test` runs it directly.

const NUMERIC = new Set(['int', 'float']);

/** Throws unless `table` looks like a Weft table. */
function checkTable(table, which) {
  if (!table || !Array.isArray(table.columns) || !table.columns.every((c) => c && Array.isArray(c.values))) {
    throw new Error(`${which} is not a Weft table: expected {"columns": [{"name", "type", "values"}, ...]}`);
  }
}

/** Mean and population standard deviation of each numeric column, skipping missing values. */
export function fit(table, exclude = []) {
  checkTable(table, 'the training table');
  const columns = {};
  for (const col of table.columns) {
    if (!NUMERIC.has(col.type) || exclude.includes(col.name)) continue;
    const xs = col.values.filter((v) => v !== null);
    if (xs.length === 0) throw new Error(`column \`${col.name}\` has no values to fit on`);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / xs.length;
    const std = Math.sqrt(variance);
    // A constant column is centred, not divided by zero (as scikit-learn's StandardScaler does).
    columns[col.name] = { mean, scale: std > 0 ? std : 1 };
  }
  return { columns };
}

/** A copy of `table` with every fitted column standardized; fitted columns become floats. */
export function apply(scaler, table) {
  checkTable(table, 'the table to transform');
  const names = new Set(table.columns.map((c) => c.name));
  for (const name of Object.keys(scaler.columns)) {
    if (!names.has(name)) throw new Error(`column \`${name}\` was fitted but is missing from this table`);
  }
  return {
    columns: table.columns.map((col) => {
      const s = scaler.columns[col.name];
      if (!s) return col;
      return {
        name: col.name,
        type: 'float',
        values: col.values.map((v) => (v === null ? null : (v - s.mean) / s.scale)),
      };
    }),
  };
}
