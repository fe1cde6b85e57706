//! Golden tests: each `tests/invalid/NAME.yaml` is validated against a fixed catalog of
//! step declarations and the problems must equal `tests/invalid/NAME.expected`.
//! Set `WEFT_BLESS=1` to rewrite the expected files after an intended change.

use std::path::Path;
use weft_model::{Catalog, ParamSpec, ParamType, ParamValue, Port, StepInfo};

fn port(name: &str, media_type: &str) -> Port {
    Port {
        name: name.into(),
        media_type: media_type.into(),
        description: String::new(),
    }
}

fn param(name: &str, ty: ParamType, default: Option<ParamValue>) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        ty,
        default,
        description: String::new(),
    }
}

const TABLE: &str = "application/vnd.weft.table+json";

/// Declarations shaped like Weft's own plugins.
fn catalog() -> Catalog {
    let step = |name: &str, inputs, outputs, params| StepInfo {
        name: name.into(),
        version: "0.1.0".into(),
        description: String::new(),
        inputs,
        outputs,
        params,
    };
    let mut c = Catalog::new();
    for uses in ["csv-to-table", "csv-to-table@0.1"] {
        c.insert(
            uses.into(),
            Ok(step(
                "csv-to-table",
                vec![port("csv", "text/csv")],
                vec![port("table", TABLE)],
                vec![param(
                    "delimiter",
                    ParamType::Str,
                    Some(ParamValue::Str(",".into())),
                )],
            )),
        );
    }
    c.insert(
        "train-test-split".into(),
        Ok(step(
            "train-test-split",
            vec![port("table", TABLE)],
            vec![port("train", TABLE), port("test", TABLE)],
            vec![
                param(
                    "test_fraction",
                    ParamType::Float,
                    Some(ParamValue::Float(0.2)),
                ),
                param("seed", ParamType::Int, None),
            ],
        )),
    );
    c.insert(
        "summary-stats".into(),
        Ok(step(
            "summary-stats",
            vec![port("table", TABLE)],
            vec![port("summary", "application/json")],
            vec![],
        )),
    );
    c.insert(
        "any-text".into(),
        Ok(step(
            "any-text",
            vec![port("text", "text/*")],
            vec![port("out", "text/plain")],
            vec![],
        )),
    );
    c.insert(
        "missing".into(),
        Err("no component `missing` in the plugin path (dist/plugins)".into()),
    );
    c
}

#[test]
fn invalid_workflows_match_their_expected_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let bless = std::env::var_os("WEFT_BLESS").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/invalid")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).expect("read yaml");
        let overrides: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# --param "))
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let actual = match weft_model::parse_and_validate(&text, &catalog(), &overrides) {
            Ok(_) => "(valid)\n".to_string(),
            Err(d) => d.to_string(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("bless");
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                path.display()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
