//! The model must never panic, whatever the input: thousands of mutated workflows
//! (byte flips, truncations, inserted YAML punctuation) go through parse and validate.

use std::path::Path;
use weft_model::{Catalog, ParamType, ParamValue, Port, StepInfo};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in [root.join("tests/invalid"), root.join("../../examples")] {
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            if entry.path().extension().is_some_and(|e| e == "yaml") {
                texts.push(std::fs::read_to_string(entry.path()).expect("read"));
            }
        }
    }
    texts
}

fn catalog() -> Catalog {
    let port = |n: &str, m: &str| Port {
        name: n.into(),
        media_type: m.into(),
        description: String::new(),
        many: false,
    };
    let info = StepInfo {
        name: "csv-to-table".into(),
        version: "0.1.0".into(),
        description: String::new(),
        inputs: vec![port("csv", "text/*")],
        outputs: vec![port("table", "text/csv")],
        params: vec![weft_model::ParamSpec {
            name: "seed".into(),
            ty: ParamType::Int,
            default: Some(ParamValue::Int(1)),
            description: String::new(),
        }],
    };
    let mut c = Catalog::new();
    for uses in [
        "csv-to-table",
        "csv-to-table@0.1",
        "train-test-split@0.1",
        "select-columns@0.1",
        "summary-stats@0.1",
    ] {
        c.insert(uses.into(), Ok(info.clone()));
    }
    c
}

#[test]
fn mutated_workflows_never_panic() {
    const PUNCT: &[&str] = &[
        ":", "{", "}", "[", "]", "&a", "*a", "!!str", "- ", "\n", "  ", "'", "\"", "${{", "}}", "#", "?", ",", "\t",
        "\u{feff}", "é",
    ];
    let seeds = seeds();
    let catalog = catalog();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut checked = 0;
    for round in 0..20_000 {
        let mut text = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, PUNCT[rng.below(PUNCT.len())]),
                1 => text.truncate(at),
                _ => {
                    let mut end = (at + rng.below(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
            }
        }
        let _ = weft_model::parse_and_validate(&text, &catalog, &[("seed".into(), "x".into())]);
        checked += 1;
    }
    assert_eq!(checked, 20_000);
}

/// Found by the `workflow` fuzz target: a quoted key holding newlines (`"a\nb"`) was quoted
/// in its message as is, so one problem printed as several lines (and a key holding
/// terminal escapes could have recoloured the terminal).
#[test]
fn quoted_control_characters_stay_on_one_line() {
    let text = "name: w\nsteps:\n  \"a\\r\\nb\\u001b[2J\":\n    uses: \"x\\ny\"\n  c: {uses: csv-to-table, inputs: {csv: \"q\\u202e.r\"}}\n";
    let problems = weft_model::parse_and_validate(text, &catalog(), &[]).expect_err("invalid");
    let shown = problems.render("w.yaml");
    assert_eq!(shown.lines().count(), problems.0.len(), "{shown}");
    assert!(!shown.contains(['\r', '\u{1b}', '\u{202e}']), "{shown}");
    assert!(shown.contains("a\\r\\nb\\u{1b}[2J"), "{shown}");
}
