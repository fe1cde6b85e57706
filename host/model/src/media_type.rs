//! Media types of ports: well-formedness and which produced type an input accepts.

/// The wildcard media type. On an input: accepts anything. On an output: the output is
/// of the type of the artifacts bound to the step's `*/*` inputs (a pass-through).
pub const ANY: &str = "*/*";

/// Lower-cased `type/subtype` without parameters (`; charset=...`).
fn essence(mt: &str) -> String {
    mt.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether `mt` is `type/subtype` (with `*` wildcards only where allowed).
pub fn is_well_formed(mt: &str, wildcard_ok: bool) -> bool {
    let e = essence(mt);
    let Some((ty, sub)) = e.split_once('/') else {
        return false;
    };
    let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    match (ty, sub) {
        ("*", "*") => wildcard_ok,
        ("*", _) => false,
        (t, "*") => wildcard_ok && token(t),
        (t, s) => token(t) && token(s),
    }
}

/// Whether an input port declared `accepted` can be fed an artifact of type `produced`.
pub fn accepts(accepted: &str, produced: &str) -> bool {
    let (a, p) = (essence(accepted), essence(produced));
    if a == "*/*" || a == p {
        return true;
    }
    match (a.strip_suffix("/*"), p.split_once('/')) {
        (Some(family), Some((ptype, _))) => family == ptype,
        _ => false,
    }
}

/// A media type guessed from a file name, for workflow inputs that do not state one.
pub fn guess_from_path(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => "text/csv",
        Some("tsv") => "text/tab-separated-values",
        Some("json") => "application/json",
        Some("jsonl" | "ndjson") => "application/x-ndjson",
        Some("txt" | "md") => "text/plain",
        Some("parquet") => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(accepts("text/csv", "text/csv; charset=utf-8"));
        assert!(accepts("text/*", "text/csv"));
        assert!(accepts("*/*", "application/json"));
        assert!(!accepts("text/csv", "application/json"));
        assert!(!accepts("text/*", "application/json"));
    }

    #[test]
    fn well_formed() {
        assert!(is_well_formed("application/vnd.weft.table+json", false));
        assert!(is_well_formed("text/*", true));
        assert!(!is_well_formed("text/*", false));
        assert!(!is_well_formed("csv", true));
        assert!(!is_well_formed("*/csv", true));
    }

    #[test]
    fn guesses() {
        assert_eq!(guess_from_path("data/iris.CSV"), "text/csv");
        assert_eq!(guess_from_path("blob"), "application/octet-stream");
    }
}
