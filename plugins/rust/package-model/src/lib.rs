//! Weft step `package-model`: passes a model on together with its model card — what it is,
//! the metrics it reached, and the digests of the data and of the steps (components and
//! parameters) that made it, taken from the host's lineage record rather than from
//! anything a step claims.

mod card;
mod markdown;

use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct PackageModel;

impl Guest for PackageModel {
    fn describe() -> StepInfo {
        StepInfo {
            name: "package-model".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Outputs the model unchanged with a model card in JSON and Markdown: name, version, \
                          the evaluation's metrics, and the lineage of the model and of its evaluation back to \
                          the workflow inputs (every artifact's digest, every step's component digest and \
                          parameters)."
                .into(),
            inputs: vec![
                port("model", "*/*", "The model to package"),
                port(
                    "evaluation",
                    "application/json",
                    "The model's evaluation report (a JSON object)",
                ),
            ],
            outputs: vec![
                port("model", "*/*", "The model, byte for byte"),
                port("card", "application/json", "The model card"),
                port("card_md", "text/markdown", "The model card for humans"),
            ],
            params: vec![
                param("name", ParamType::Str, None, "The model's name"),
                param(
                    "version",
                    ParamType::Str,
                    Some(ParamValue::Str("1".into())),
                    "The model's version",
                ),
                param(
                    "description",
                    ParamType::Str,
                    Some(ParamValue::Str(String::new())),
                    "What the model is for",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let about = card::About {
            name: p.str("name")?,
            version: p.str("version")?,
            description: p.str("description")?,
        };
        let evaluation = serde_json::from_slice(&io::read_bytes("evaluation")?)
            .map_err(|e| bad_input(format!("input `evaluation` is not JSON: {e}")))?;
        let card = card::build(
            &about,
            &io::source("model")?,
            &io::source("evaluation")?,
            evaluation,
            &io::lineage(),
        )
        .map_err(bad_input)?;
        io::write_bytes("model", &io::read_bytes("model")?)?;
        let pretty = serde_json::to_vec_pretty(&card).map_err(|e| weft_step::failed(e.to_string()))?;
        io::write_bytes("card", &pretty)?;
        io::write_bytes("card_md", markdown::render(&card).as_bytes())
    }
}

weft_step::export!(PackageModel);
