//! Weft step `train-test-split`: a deterministic, optionally stratified split of a table's rows.

use weft_step::table::Table;
use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, metric, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct Split;

impl Guest for Split {
    fn describe() -> StepInfo {
        StepInfo {
            name: "train-test-split".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Shuffles rows with a seeded generator and splits them into train and test sets. \
                          With `stratify`, each class of that column is split in the same proportion."
                .into(),
            inputs: vec![port("table", weft_step::table::MEDIA_TYPE, "Rows to split")],
            outputs: vec![
                port("train", weft_step::table::MEDIA_TYPE, "Training rows"),
                port("test", weft_step::table::MEDIA_TYPE, "Held-out rows"),
            ],
            params: vec![
                param(
                    "test_fraction",
                    ParamType::Float,
                    Some(ParamValue::Float(0.2)),
                    "Share of rows held out, in (0, 1)",
                ),
                param("seed", ParamType::Int, Some(ParamValue::Int(42)), "Seed of the shuffle"),
                param(
                    "stratify",
                    ParamType::Str,
                    Some(ParamValue::Str(String::new())),
                    "Column to stratify on; empty for none",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let table = Table::from_json(&io::read_bytes("table")?).map_err(bad_input)?;
        #[allow(clippy::cast_sign_loss)]
        let (train, test) = split_indices(
            &table,
            p.float("test_fraction")?,
            p.int("seed")? as u64,
            &p.str("stratify")?,
        )
        .map_err(bad_input)?;
        #[allow(clippy::cast_precision_loss)]
        {
            metric("train_rows", train.len() as f64);
            metric("test_rows", test.len() as f64);
        }
        io::write_json("train", &table.take_rows(&train))?;
        io::write_json("test", &table.take_rows(&test))
    }
}

weft_step::export!(Split);

/// SplitMix64: tiny, well-distributed, and identical on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by rejection to avoid modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

fn shuffle(items: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        #[allow(clippy::cast_possible_truncation)]
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// Row indices of the train and test sets, each sorted ascending.
pub fn split_indices(
    table: &Table,
    test_fraction: f64,
    seed: u64,
    stratify: &str,
) -> Result<(Vec<usize>, Vec<usize>), String> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(format!("test_fraction must be between 0 and 1, got {test_fraction}"));
    }
    let n = table.rows();
    let groups: Vec<Vec<usize>> = if stratify.is_empty() {
        vec![(0..n).collect()]
    } else {
        let col = table
            .column(stratify)
            .ok_or_else(|| format!("no column `{stratify}` to stratify on"))?;
        let mut keys: Vec<String> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, v) in col.values.iter().enumerate() {
            let key = v
                .as_ref()
                .map_or_else(|| "<missing>".to_string(), weft_step::table::Value::render);
            match keys.iter().position(|k| *k == key) {
                Some(g) => groups[g].push(i),
                None => {
                    keys.push(key);
                    groups.push(vec![i]);
                }
            }
        }
        groups
    };
    let mut rng = SplitMix64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut group in groups {
        shuffle(&mut group, &mut rng);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let k = (group.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&group[..k]);
        train.extend_from_slice(&group[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_step::table::{Column, ColumnType, Value};

    fn table(n: usize) -> Table {
        Table {
            columns: vec![Column {
                name: "class".into(),
                ty: ColumnType::String,
                values: (0..n)
                    .map(|i| Some(Value::Str(if i % 3 == 0 { "a" } else { "b" }.into())))
                    .collect(),
            }],
        }
    }

    #[test]
    fn deterministic_and_disjoint() {
        let (tr1, te1) = split_indices(&table(100), 0.25, 7, "").expect("ok");
        let (tr2, te2) = split_indices(&table(100), 0.25, 7, "").expect("ok");
        assert_eq!((&tr1, &te1), (&tr2, &te2));
        assert_eq!(te1.len(), 25);
        assert!(te1.iter().all(|i| !tr1.contains(i)));
        let (_, te3) = split_indices(&table(100), 0.25, 8, "").expect("ok");
        assert_ne!(te1, te3, "another seed gives another split");
    }

    #[test]
    fn stratified_keeps_proportions() {
        let t = table(300); // 100 a, 200 b
        let (_, test) = split_indices(&t, 0.2, 1, "class").expect("ok");
        let a = test.iter().filter(|&&i| i % 3 == 0).count();
        assert_eq!((a, test.len() - a), (20, 40));
    }

    #[test]
    fn bad_fraction() {
        assert!(split_indices(&table(3), 1.0, 1, "").is_err());
        assert!(split_indices(&table(3), 0.5, 1, "nope").is_err());
    }
}
