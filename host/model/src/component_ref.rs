//! The `uses:` field: which component a step runs.

use crate::step_info::is_identifier;

/// A parsed `uses:` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentRef {
    /// `name` or `name@version`, looked up in the plugin directories.
    Named {
        /// Component name, matching its `describe().name`.
        name: String,
        /// Version prefix (`0.1` matches `0.1.x`), if pinned.
        version: Option<String>,
    },
    /// A `.wasm` file, relative to the workflow file.
    Path(String),
    /// `sha256:HEX`: exactly the component with this digest (from a server's registry).
    Digest(String),
}

impl ComponentRef {
    /// Parses `uses:` text.
    pub fn parse(text: &str) -> Result<ComponentRef, String> {
        if text.ends_with(".wasm") {
            return Ok(ComponentRef::Path(text.to_string()));
        }
        if let Some(hex) = text.strip_prefix("sha256:") {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(format!(
                    "`{text}` is not a component digest: `sha256:` and 64 lowercase hex digits"
                ));
            }
            return Ok(ComponentRef::Digest(text.to_string()));
        }
        let (name, version) = match text.split_once('@') {
            // `@latest` is the newest version, as no version at all.
            Some((n, "latest")) => (n, None),
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        if !is_identifier(name) {
            return Err(format!(
                "`{text}` is not a component reference: write `name`, `name@0.1`, `name@latest`, `sha256:…` or a path ending in `.wasm`"
            ));
        }
        if let Some(v) = version {
            let parts: Vec<_> = v.split('.').collect();
            if parts.len() > 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err(format!("`{v}` is not a version like `1`, `0.1` or `0.1.2`"));
            }
        }
        Ok(ComponentRef::Named {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }

    /// Whether a component declaring `name` and `version` satisfies this reference.
    pub fn matches(&self, name: &str, version: &str) -> bool {
        match self {
            ComponentRef::Path(_) | ComponentRef::Digest(_) => true,
            ComponentRef::Named { name: n, version: v } => {
                n == name
                    && v.as_ref()
                        .is_none_or(|v| version == v || version.starts_with(&format!("{v}.")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let r = ComponentRef::parse("csv-to-table@0.1").expect("valid");
        assert!(r.matches("csv-to-table", "0.1.3"));
        assert!(!r.matches("csv-to-table", "0.10.0"));
        assert!(!r.matches("other", "0.1.0"));
        assert_eq!(
            ComponentRef::parse("./x.wasm"),
            Ok(ComponentRef::Path("./x.wasm".into()))
        );
        assert!(ComponentRef::parse("Bad Name").is_err());
        let latest = ComponentRef::parse("csv-to-table@latest").expect("valid");
        assert!(latest.matches("csv-to-table", "7.0.0"));
        let hex = "ab".repeat(32);
        assert_eq!(
            ComponentRef::parse(&format!("sha256:{hex}")),
            Ok(ComponentRef::Digest(format!("sha256:{hex}")))
        );
        assert!(ComponentRef::parse("sha256:abc").is_err());
        assert!(ComponentRef::parse(&format!("sha256:{}", "AB".repeat(32))).is_err());
        assert!(ComponentRef::parse("a@v1").is_err());
    }
}
