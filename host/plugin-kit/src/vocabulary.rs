//! Checks the claim of `docs/plugin-sdk.md`: the four SDKs a project is made with share one
//! vocabulary, each defining every name its column of the table lists.

use crate::Lang;
use crate::project::files;

const DOC: &str = include_str!("../../../docs/plugin-sdk.md");

/// The vocabulary table's rows: (what, [Rust, Python, JavaScript, C]) with each cell's first
/// name in backticks, `None` for a cell without one (`—`).
fn rows() -> Vec<(String, [Option<String>; 4])> {
    let mut lines = DOC.lines().skip_while(|l| !l.starts_with("| what | Rust"));
    assert!(
        lines.next().is_some(),
        "docs/plugin-sdk.md has no `| what | Rust …` table"
    );
    lines
        .skip(1) // the |---| line
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "a row of five cells: {line}");
            let name = |cell: &str| cell.split('`').nth(1).map(str::to_owned);
            (
                cells[0].to_owned(),
                [name(cells[1]), name(cells[2]), name(cells[3]), name(cells[4])],
            )
        })
        .collect()
}

/// Whether `name` is defined (not merely used) in a project's files of `lang`.
fn defines(lang: Lang, name: &str) -> bool {
    let patterns: Vec<String> = match lang {
        Lang::Rust => ["fn ", "struct ", "trait ", "const "]
            .iter()
            .map(|kw| format!("pub {kw}{name}"))
            .chain([format!("::{name};")]) // re-exported from the bindings
            .collect(),
        Lang::Python => vec![
            format!("\ndef {name}("),
            format!("\nclass {name}"),
            format!("\n{name} = "),
        ],
        Lang::Js => ["function ", "class ", "const "]
            .iter()
            .map(|kw| format!("export {kw}{name}"))
            .collect(),
        // A declaration in a header (`type name(`), a macro, or the export the bindings name.
        Lang::C => vec![format!(" {name}("), format!("*{name}("), format!("#define {name} ")],
    };
    files(lang)
        .iter()
        .filter(|(path, _)| !path.ends_with(".md") && !path.ends_with(".wit"))
        .any(|(_, text)| patterns.iter().any(|p| text.contains(p.as_str())))
}

#[test]
fn the_sdks_define_every_name_of_the_vocabulary() {
    let rows = rows();
    assert!(rows.len() >= 15, "the vocabulary table has {} rows", rows.len());
    let mut missing = Vec::new();
    for (what, names) in &rows {
        for (lang, name) in [Lang::Rust, Lang::Python, Lang::Js, Lang::C].into_iter().zip(names) {
            if let Some(name) = name
                && !defines(lang, name)
            {
                missing.push(format!("{what}: {lang:?} `{name}`"));
            }
        }
    }
    assert!(missing.is_empty(), "not defined by their SDK:\n{}", missing.join("\n"));
}

#[test]
fn a_name_the_sdk_lacks_is_found_missing() {
    assert!(defines(Lang::Python, "read_bytes") && defines(Lang::Js, "readBytes"));
    assert!(!defines(Lang::Python, "readBytes") && !defines(Lang::Js, "read_bytes"));
    assert!(!defines(Lang::Rust, "read_all") && !defines(Lang::C, "weft_read_all"));
}
