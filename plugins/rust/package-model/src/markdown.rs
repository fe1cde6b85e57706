//! The model card rendered as Markdown for people: the same facts as the JSON card.

use serde_json::Value;
use std::fmt::Write;

/// Renders a card made by [`crate::card::build`].
pub fn render(card: &Value) -> String {
    let mut md = String::new();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let _ = writeln!(
        md,
        "# Model card: {} (version {})\n",
        text(&card["name"]),
        text(&card["version"])
    );
    let description = text(&card["description"]);
    if !description.is_empty() {
        let _ = writeln!(md, "{description}\n");
    }
    let model = &card["model"];
    let _ = writeln!(md, "## Model\n");
    let _ = writeln!(
        md,
        "`{}` from `{}`: {} bytes of `{}`.\n",
        text(&model["digest"]),
        text(&model["source"]),
        model["size"],
        text(&model["media_type"])
    );
    let _ = writeln!(
        md,
        "## Metrics\n\nFrom `{}` (`{}`).\n\n| metric | value |\n|---|---|",
        text(&card["evaluation"]["source"]),
        text(&card["evaluation"]["digest"])
    );
    for (name, value) in card["metrics"].as_object().into_iter().flatten() {
        let _ = writeln!(md, "| {name} | {value} |");
    }
    let _ = writeln!(
        md,
        "\n## Data\n\n| input | digest | bytes | media type |\n|---|---|---|---|"
    );
    for d in card["data"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| `{}` | `{}` | {} | `{}` |",
            text(&d["source"]),
            text(&d["digest"]),
            d["size"],
            text(&d["media_type"])
        );
    }
    let _ = writeln!(
        md,
        "\n## Steps\n\nEvery artifact behind the model and its evaluation, each after what it was made from.\n\n\
         | output | step | component | parameters | inputs |\n|---|---|---|---|---|"
    );
    for s in card["steps"].as_array().into_iter().flatten() {
        let params: Vec<String> = s["params"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let inputs: Vec<String> = s["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| format!("`{}`", text(i)))
            .collect();
        let _ = writeln!(
            md,
            "| `{}` | {} | `{}` | {} | {} |",
            text(&s["output"]),
            text(&s["step"]),
            text(&s["component"]),
            params.join(", "),
            inputs.join(", ")
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{build, tests};
    use serde_json::json;

    #[test]
    fn the_markdown_card_shows_metrics_data_and_steps() {
        let report = json!({"accuracy": 0.98});
        let card = build(&tests::about(), "train.model", "eval.report", report, &tests::lineage()).expect("card");
        let md = render(&card);
        assert!(
            md.starts_with("# Model card: cancer (version 3)\n\nFlags tumours\n"),
            "{md}"
        );
        assert!(md.contains("| accuracy | 0.98 |"), "{md}");
        assert!(
            md.contains("| `inputs.data` | `sha256:data` | 1000 | `text/csv` |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| `train.model` | train-logreg@0.1.0 | `sha256:train-logreg@0.1.0` | l2=0.1 | `inputs.data` |"
            ),
            "{md}"
        );
    }
}
