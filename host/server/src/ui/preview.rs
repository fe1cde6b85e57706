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

/// Most columns a table preview shows (the rest are left out, and said to be).
const COLUMNS: usize = 200;

/// One page of a table: its column names, the rows of the page (cells as text), and how
/// many rows the whole table has. Only the page's rows are ever built, whatever the size.
pub(crate) struct Grid {
    pub columns: Vec<String>,
    /// Columns past [`COLUMNS`], left out.
    pub hidden: usize,
    /// The first row's number (0-based) and the page's rows.
    pub first: usize,
    pub rows: Vec<Vec<String>>,
    pub total: usize,
}

/// The rows of page `page` among `total` (the last page when past it).
fn page_range(total: usize, page: usize) -> std::ops::Range<usize> {
    let pages = total.div_ceil(ROWS).max(1);
    let first = page.min(pages - 1) * ROWS;
    first..(first + ROWS).min(total)
}

/// Page `page` of a Weft table (`{"columns": [{"name", "type", "values"}]}`), or why not.
pub(crate) fn weft_table(bytes: &[u8], page: usize) -> Result<Grid, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not a Weft table: {e}"))?;
    let columns = value["columns"]
        .as_array()
        .ok_or("not a Weft table: no `columns` list")?;
    let mut names = Vec::new();
    let mut cells: Vec<&Vec<serde_json::Value>> = Vec::new();
    for c in columns.iter().take(COLUMNS) {
        names.push(c["name"].as_str().unwrap_or("?").to_string());
        cells.push(
            c["values"]
                .as_array()
                .ok_or("not a Weft table: a column has no `values`")?,
        );
    }
    let total = cells.iter().map(|v| v.len()).max().unwrap_or(0);
    let range = page_range(total, page);
    let rows = range
        .clone()
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
    Ok(Grid {
        columns: names,
        hidden: columns.len().saturating_sub(COLUMNS),
        first: range.start,
        rows,
        total,
    })
}

/// Page `page` of CSV (RFC 4180 quoting) with its first record as the header. One pass;
/// only the header and the page's records are kept, each to [`COLUMNS`] fields.
pub(crate) fn csv(text: &str, separator: u8, page: usize) -> Grid {
    let sep = char::from(separator);
    let mut header: Option<Vec<String>> = None;
    let mut hidden = 0;
    let mut kept: Vec<Vec<String>> = Vec::new();
    // Records after the header seen so far; the page is known once they are counted, so
    // the records of every page that could be asked for (the requested one, or the last
    // when it is past the end) are kept as they pass: a window of two pages at most.
    let mut count = 0usize;
    let wanted = page.saturating_mul(ROWS);
    let mut window_start = 0usize;
    let mut record: Vec<String> = Vec::new();
    let mut fields = 0usize;
    let mut field = String::new();
    let mut quoted = false;
    let mut end_record = |record: &mut Vec<String>, fields: &mut usize| {
        let fields_seen = std::mem::take(fields);
        let record = std::mem::take(record);
        match &header {
            None => {
                hidden = fields_seen.saturating_sub(COLUMNS);
                header = Some(record);
            }
            Some(_) => {
                if count < wanted + ROWS {
                    // Keep the last two pages' worth (the asked page may be past the end).
                    if count >= window_start + 2 * ROWS {
                        kept.drain(..ROWS);
                        window_start += ROWS;
                    }
                    kept.push(record);
                }
                count += 1;
            }
        }
    };
    let keep = |record: &mut Vec<String>, fields: &mut usize, field: &mut String| {
        if *fields < COLUMNS {
            record.push(std::mem::take(field));
        } else {
            field.clear();
        }
        *fields += 1;
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == sep => keep(&mut record, &mut fields, &mut field),
            (false, '\r') => {}
            (false, '\n') => {
                keep(&mut record, &mut fields, &mut field);
                end_record(&mut record, &mut fields);
            }
            (false, c) => {
                if fields < COLUMNS {
                    field.push(c);
                }
            }
        }
    }
    if !field.is_empty() || !record.is_empty() {
        keep(&mut record, &mut fields, &mut field);
        end_record(&mut record, &mut fields);
    }
    let range = page_range(count, page);
    let rows = kept
        .into_iter()
        .enumerate()
        .filter(|(i, _)| range.contains(&(window_start + i)))
        .map(|(_, r)| r)
        .collect();
    Grid {
        columns: header.unwrap_or_default(),
        hidden,
        first: range.start,
        rows,
        total: count,
    }
}

/// A grid's page, with links to the pages around it (`href(page)` gives a page's URL).
pub(crate) fn grid_page(grid: &Grid, href: impl Fn(usize) -> String) -> Markup {
    let page = grid.first / ROWS;
    let first = grid.first;
    let rows = &grid.rows;
    html! {
        p.pager {
            "Rows " (first + usize::from(!rows.is_empty())) "–" (first + rows.len()) " of " (grid.total)
            ", " (grid.columns.len() + grid.hidden) " columns"
            @if grid.hidden > 0 { " (the first " (grid.columns.len()) " shown)" }
            ". "
            @if page > 0 { a rel="prev" href=(href(page - 1)) { "← previous" } " " }
            @if first + rows.len() < grid.total { a rel="next" href=(href(page + 1)) { "next →" } }
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
        let grid = csv("a,b\n1,\"x, \"\"y\"\"\"\n2,\"two\nlines\"\r\n3,\n", b',', 0);
        assert_eq!(grid.columns, ["a", "b"]);
        assert_eq!(grid.total, 3);
        assert_eq!(
            grid.rows,
            [vec!["1", "x, \"y\""], vec!["2", "two\nlines"], vec!["3", ""]]
        );
    }

    #[test]
    fn a_weft_table_becomes_rows() {
        let grid = weft_table(br#"{"columns":[{"name":"n","type":"int","values":[1,null]},{"name":"s","type":"string","values":["a","b"]}]}"#, 0)
            .expect("a table");
        assert_eq!(grid.columns, ["n", "s"]);
        assert_eq!(grid.rows, [vec!["1", "a"], vec!["", "b"]]);
        assert!(weft_table(b"[1]", 0).is_err());
    }

    #[test]
    fn only_a_pages_rows_and_the_first_columns_are_built() {
        // A long column beside many empty ones: the page holds 50 rows of 200 cells.
        let empty = vec![r#"{"name":"e","type":"int","values":[]}"#; 10_000].join(",");
        let long = format!(
            r#"{{"name":"n","type":"int","values":[{}]}}"#,
            vec!["0"; 100_000].join(",")
        );
        let table = format!(r#"{{"columns":[{long},{empty}]}}"#);
        let grid = weft_table(table.as_bytes(), 3).expect("a table");
        assert_eq!((grid.total, grid.first, grid.rows.len()), (100_000, 150, ROWS));
        assert_eq!((grid.columns.len(), grid.hidden), (COLUMNS, 10_001 - COLUMNS));
        assert!(grid.rows.iter().all(|r| r.len() == COLUMNS));
        // CSV: a million records, one page kept; a record of many fields, cut.
        let many = "h\n".to_string() + &"x\n".repeat(1_000_000);
        let grid = csv(&many, b',', 7);
        assert_eq!((grid.total, grid.first, grid.rows.len()), (1_000_000, 350, ROWS));
        let wide = format!("{}\n1\n", vec!["c"; 5000].join(","));
        let grid = csv(&wide, b',', 0);
        assert_eq!(
            (grid.columns.len(), grid.hidden, grid.total),
            (COLUMNS, 5000 - COLUMNS, 1)
        );
    }

    #[test]
    fn pages_hold_at_most_rows_rows() {
        let text = "i\n".to_string() + &(0..120).map(|i| format!("{i}\n")).collect::<String>();
        let last = grid_page(&csv(&text, b',', 2), |p| format!("?page={p}")).into_string();
        assert!(
            last.contains("Rows 101–120 of 120") && last.contains("?page=1") && !last.contains("?page=3"),
            "{last}"
        );
        assert_eq!(last.matches("<tr>").count(), 21, "{last}");
        let past = grid_page(&csv(&text, b',', 99), |p| format!("?page={p}")).into_string();
        assert!(
            past.contains("Rows 101–120") && past.contains("<th scope=\"row\">120</th>"),
            "a page past the end shows the last: {past}"
        );
        let middle = grid_page(&csv(&text, b',', 1), |p| format!("?page={p}")).into_string();
        assert!(
            middle.contains("Rows 51–100") && middle.contains("<td>50</td>") && middle.contains("?page=2"),
            "{middle}"
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
