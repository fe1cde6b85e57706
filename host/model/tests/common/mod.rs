//! The fixed catalog of step declarations the model's tests validate against,
//! shaped like Weft's own plugins.

#![allow(dead_code)]

use weft_model::{Catalog, ParamSpec, ParamType, ParamValue, Port, StepInfo};

pub fn port(name: &str, media_type: &str) -> Port {
    Port {
        name: name.into(),
        media_type: media_type.into(),
        description: String::new(),
        many: false,
    }
}

pub fn param(name: &str, ty: ParamType, default: Option<ParamValue>) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        ty,
        default,
        description: String::new(),
    }
}

pub const TABLE: &str = "application/vnd.weft.table+json";

/// Declarations shaped like Weft's own plugins.
pub fn catalog() -> Catalog {
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
                vec![param("delimiter", ParamType::Str, Some(ParamValue::Str(",".into())))],
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
                param("test_fraction", ParamType::Float, Some(ParamValue::Float(0.2))),
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
        "join".into(),
        Ok(step(
            "join",
            vec![port("left", TABLE), port("right", TABLE)],
            vec![port("table", TABLE)],
            vec![],
        )),
    );
    c.insert(
        "pick-best".into(),
        Ok(step(
            "pick-best",
            vec![Port {
                many: true,
                ..port("candidates", "application/json")
            }],
            vec![port("best", "application/json")],
            vec![],
        )),
    );
    c.insert(
        "missing".into(),
        Err("no component `missing` in the plugin path (dist/plugins)".into()),
    );
    c
}
