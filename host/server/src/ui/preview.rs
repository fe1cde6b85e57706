//! An artifact's bytes shown by media type: Weft tables and CSV as a paged table, JSON
//! pretty and collapsible, Markdown rendered (its HTML and script-bearing links dropped),
//! other text as text. Every shape is bounded: rows per page, JSON nodes, text bytes.

use maud::{Markup, PreEscaped, html};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Table rows on one page.
pub(crate) const ROWS: usize = 50;
/// JSON values drawn before the rest is left out.
const JSON_NODES: usize = 5_000;
/// JSON nesting drawn before deeper values are left out.
const JSON_DEPTH: usize = 32;

/// How a media type is previewed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Kind {
    Table,
    Csv(u8),
    Json,
    Markdown,
    Text,
    Image,
    None,
}

/// The preview kind for `media_type` (parameters such as `; charset` ignored).
pub(crate) fn kind(media_type: &str) -> Kind {
    let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/vnd.weft.table+json" => Kind::Table,
        "text/csv" => Kind::Csv(b','),
        "text/tab-separated-values" => Kind::Csv(b'\t'),
        "text/markdown" => Kind::Markdown,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => Kind::Image,
        "application/json" | "application/x-ndjson" => Kind::Json,
        t if t.ends_with("+json") => Kind::Json,
        t if t.starts_with("text/") || t == "application/xml" || t == "application/yaml" => Kind::Text,
        _ => Kind::None,
    }
}

/// A table: column names and rows of cells, as text.
pub(crate) struct Grid {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A Weft table (`{"columns": [{"name", "type", "values"}]}`) as a grid, or why not.
pub(crate) fn weft_table(bytes: &[u8]) -> Result<Grid, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not a Weft table: {e}"))?;
    let columns = value["columns"]
        .as_array()
        .ok_or("not a Weft table: no `columns` list")?;
    let mut names = Vec::with_capacity(columns.len());
    let mut cells: Vec<&Vec<serde_json::Value>> = Vec::with_capacity(columns.len());
    for c in columns {
        names.push(c["name"].as_str().unwrap_or("?").to_string());
        cells.push(
            c["values"]
                .as_array()
                .ok_or("not a Weft table: a column has no `values`")?,
        );
    }
    let height = cells.iter().map(|v| v.len()).max().unwrap_or(0);
    let rows = (0..height)
        .map(|r| {
            cells
                .iter()
                .map(|col| match col.get(r) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(Grid { columns: names, rows })
}

/// CSV (RFC 4180 quoting) with its first record as the header.
pub(crate) fn csv(text: &str, separator: u8) -> Grid {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let sep = char::from(separator);
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == sep => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    let mut records = records.into_iter();
    Grid {
        columns: records.next().unwrap_or_default(),
        rows: records.collect(),
    }
}

/// One page of a grid, with links to the others (`href(page)` gives a page's URL).
pub(crate) fn grid_page(grid: &Grid, page: usize, href: impl Fn(usize) -> String) -> Markup {
    let pages = grid.rows.len().div_ceil(ROWS).max(1);
    let page = page.min(pages - 1);
    let first = page * ROWS;
    let rows = &grid.rows[first.min(grid.rows.len())..(first + ROWS).min(grid.rows.len())];
    html! {
        p.pager {
            "Rows " (first + usize::from(!rows.is_empty())) "–" (first + rows.len()) " of " (grid.rows.len())
            ", " (grid.columns.len()) " columns. "
            @if page > 0 { a rel="prev" href=(href(page - 1)) { "← previous" } " " }
            @if page + 1 < pages { a rel="next" href=(href(page + 1)) { "next →" } }
        }
        div.scroll {
            table #preview-table aria-label="The table's rows" {
                thead { tr { th scope="col" { "#" } @for c in &grid.columns { th scope="col" { (c) } } } }
                tbody {
                    @for (i, row) in rows.iter().enumerate() {
                        tr { th scope="row" { (first + i + 1) } @for cell in row { td { (cell) } } }
                    }
                }
            }
        }
    }
}

/// JSON pretty, each object and array a `<details>` that folds.
pub(crate) fn json(bytes: &[u8]) -> Markup {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => {
            let mut budget = JSON_NODES;
            html! { div.json { (json_value(&value, 0, &mut budget)) }
            @if budget == 0 { p.note { "Only the first " (JSON_NODES) " values are shown: download it for the rest." } } }
        }
        Err(e) => html! {
            p.note { "Not one JSON document (" (e) "): shown as text." }
            (text(bytes))
        },
    }
}

fn json_value(value: &serde_json::Value, depth: usize, budget: &mut usize) -> Markup {
    use serde_json::Value;
    if *budget == 0 {
        return html! { span.more { "…" } };
    }
    *budget -= 1;
    let folded = |open: &str, close: &str, len: usize, body: Markup| {
        html! {
            details open[depth < 2] {
                summary { (open) " " span.more { (len) @if open == "{" { " keys" } @else { " items" } } }
                div.members { (body) }
                (close)
            }
        }
    };
    match value {
        Value::Object(map) if depth < JSON_DEPTH && !map.is_empty() => folded(
            "{",
            "}",
            map.len(),
            html! { @for (k, v) in map { @if *budget > 0 { div { span.key { (serde_json::Value::String(k.clone())) } ": " (json_value(v, depth + 1, budget)) } } } },
        ),
        Value::Array(items) if depth < JSON_DEPTH && !items.is_empty() => folded(
            "[",
            "]",
            items.len(),
            html! { @for v in items { @if *budget > 0 { div { (json_value(v, depth + 1, budget)) } } } },
        ),
        Value::Object(map) if map.is_empty() => html! { "{}" },
        Value::Array(items) if items.is_empty() => html! { "[]" },
        Value::Object(_) | Value::Array(_) => html! { span.more { "… (nested deeper than " (JSON_DEPTH) ")" } },
        Value::String(_) => html! { span.string { (value) } },
        other => html! { span.scalar { (other) } },
    }
}

/// Markdown as HTML. Raw HTML in it is shown as text, images as their alt text, and a
/// link whose target is not http(s), mailto, a fragment or a relative path loses it.
pub(crate) fn markdown(text: &str) -> Markup {
    let events = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).filter_map(|event| {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            // The alt text between them stays.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Some(Event::Start(Tag::Link {
                link_type,
                dest_url: if safe_link(&dest_url) { dest_url } else { "".into() },
                title,
                id,
            })),
            other => Some(other),
        }
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html! { div.markdown { (PreEscaped(html)) } }
}

/// Whether a link's target may stay: no `javascript:`, `data:` or other scheme.
fn safe_link(url: &str) -> bool {
    let url = url.trim();
    match url.split_once(':') {
        // A colon after a `/`, `?` or `#` is not a scheme's.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Text, as it is (invalid UTF-8 shown replaced).
pub(crate) fn text(bytes: &[u8]) -> Markup {
    html! { pre.text { (String::from_utf8_lossy(bytes)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_pick_their_preview() {
        assert_eq!(kind("application/vnd.weft.table+json"), Kind::Table);
        assert_eq!(kind("text/csv; charset=utf-8"), Kind::Csv(b','));
        assert_eq!(kind("application/vnd.weft.logreg+json"), Kind::Json);
        assert_eq!(kind("text/markdown"), Kind::Markdown);
        assert_eq!(kind("text/plain"), Kind::Text);
        assert_eq!(kind("image/png"), Kind::Image);
        // An SVG can carry script: it is not shown inline.
        assert_eq!(kind("image/svg+xml"), Kind::None);
        assert_eq!(kind("application/octet-stream"), Kind::None);
    }

    #[test]
    fn csv_keeps_quoted_separators_quotes_and_newlines() {
        let grid = csv("a,b\n1,\"x, \"\"y\"\"\"\n2,\"two\nlines\"\r\n3,\n", b',');
        assert_eq!(grid.columns, ["a", "b"]);
        assert_eq!(
            grid.rows,
            [vec!["1", "x, \"y\""], vec!["2", "two\nlines"], vec!["3", ""]]
        );
    }

    #[test]
    fn a_weft_table_becomes_rows() {
        let grid = weft_table(br#"{"columns":[{"name":"n","type":"int","values":[1,null]},{"name":"s","type":"string","values":["a","b"]}]}"#)
            .expect("a table");
        assert_eq!(grid.columns, ["n", "s"]);
        assert_eq!(grid.rows, [vec!["1", "a"], vec!["", "b"]]);
        assert!(weft_table(b"[1]").is_err());
    }

    #[test]
    fn pages_hold_at_most_rows_rows() {
        let grid = Grid {
            columns: vec!["i".into()],
            rows: (0..120).map(|i| vec![i.to_string()]).collect(),
        };
        let last = grid_page(&grid, 2, |p| format!("?page={p}")).into_string();
        assert!(
            last.contains("Rows 101–120 of 120") && last.contains("?page=1") && !last.contains("?page=3"),
            "{last}"
        );
        assert_eq!(last.matches("<tr>").count(), 21, "{last}");
        let past = grid_page(&grid, 99, |p| format!("?page={p}")).into_string();
        assert!(
            past.contains("Rows 101–120"),
            "a page past the end shows the last: {past}"
        );
    }

    #[test]
    fn markdown_is_rendered_without_its_html_or_script_links() {
        let html = markdown("# Card\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[ok](https://example.com) [bad](javascript:alert(1)) [rel](#x) ![img](http://t/x.png)").into_string();
        assert!(html.contains("<h1>Card</h1>") && html.contains("<table>"), "{html}");
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains(r#"href="https://example.com""#) && html.contains(r##"href="#x""##),
            "{html}"
        );
        assert!(!html.contains("javascript:") && !html.contains("<img"), "{html}");
    }

    #[test]
    fn json_is_bounded_and_escaped() {
        let html = json(br#"{"a": [1, 2, {"b": "<i>"}]}"#).into_string();
        assert!(html.contains("<details open>") && html.contains("&lt;i&gt;"), "{html}");
        let many = format!("[{}]", vec!["1"; 10_000].join(","));
        let html = json(many.as_bytes()).into_string();
        assert!(html.contains("Only the first 5000 values"), "…");
        assert!(json(b"{not json").into_string().contains("Not one JSON document"));
    }
}
