//! `${{ params.NAME }}` placeholders in step parameter values.

use crate::diagnostic::{clip, listing};
use crate::step_info::ParamValue;
use std::collections::BTreeMap;

/// Longest text a substitution may produce, in bytes. Without a bound, a template that
/// repeats `${{ params.big }}` multiplies a long parameter into gigabytes.
pub const MAX_SUBSTITUTED_BYTES: usize = 64 << 10;

/// Substitutes placeholders in `template`. A template that is exactly one placeholder
/// takes the parameter's typed value; otherwise placeholders are rendered into the string.
pub fn substitute(template: &str, params: &BTreeMap<String, ParamValue>) -> Result<ParamValue, String> {
    let mut out = String::new();
    let mut rest = template;
    let mut whole: Option<ParamValue> = None;
    let mut pieces = 0usize;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        if start > 0 {
            pieces += 1;
        }
        let after = &rest[start + 3..];
        let end = after.find("}}").ok_or_else(|| {
            format!(
                "unclosed `${{{{` in `{}`: write `${{{{ params.NAME }}}}`",
                clip(template, 64)
            )
        })?;
        let expr = after[..end].trim();
        let value = resolve(expr, params)?;
        out.push_str(&value.to_string());
        if out.len() > MAX_SUBSTITUTED_BYTES {
            return Err(too_long());
        }
        whole = Some(value);
        pieces += 1;
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces += 1;
    }
    out.push_str(rest);
    match whole {
        Some(v) if pieces == 1 => Ok(v),
        _ => Ok(ParamValue::Str(out)),
    }
}

fn too_long() -> String {
    format!("the substituted value would be longer than {MAX_SUBSTITUTED_BYTES} bytes")
}

fn resolve(expr: &str, params: &BTreeMap<String, ParamValue>) -> Result<ParamValue, String> {
    let Some(name) = expr.strip_prefix("params.") else {
        return Err(format!(
            "unknown expression `{}`: only `params.NAME` can be substituted here",
            clip(expr, 64)
        ));
    };
    params.get(name).cloned().ok_or_else(|| {
        let name = clip(name, 64);
        if params.is_empty() {
            format!("`params.{name}` is not a declared workflow parameter")
        } else {
            format!(
                "`params.{name}` is not declared; workflow params are: {}",
                listing(params.keys().map(String::as_str))
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, ParamValue> {
        [
            ("lr".to_string(), ParamValue::Float(0.5)),
            ("tag".to_string(), ParamValue::Str("x".into())),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn whole_placeholder_keeps_type() {
        assert_eq!(substitute("${{ params.lr }}", &params()), Ok(ParamValue::Float(0.5)));
        assert_eq!(substitute("${{params.lr}}", &params()), Ok(ParamValue::Float(0.5)));
    }

    #[test]
    fn embedded_placeholders_render() {
        assert_eq!(
            substitute("run-${{ params.tag }}-${{ params.lr }}", &params()),
            Ok(ParamValue::Str("run-x-0.5".into()))
        );
        assert_eq!(
            substitute("a ${{ params.lr }}", &params()),
            Ok(ParamValue::Str("a 0.5".into()))
        );
    }

    #[test]
    fn substitution_is_bounded() {
        let big: BTreeMap<String, ParamValue> = [("big".to_string(), ParamValue::Str("x".repeat(1000)))].into();
        let template = "${{ params.big }}".repeat(100);
        assert!(
            substitute(&template, &big)
                .expect_err("too long")
                .contains("longer than 65536")
        );
        let template = "${{ params.big }}".repeat(60);
        assert!(substitute(&template, &big).is_ok());
    }

    #[test]
    fn errors() {
        assert!(
            substitute("${{ params.nope }}", &params())
                .expect_err("unknown")
                .contains("lr, tag")
        );
        assert!(
            substitute("${{ steps.a }}", &params())
                .expect_err("expr")
                .contains("only `params.NAME`")
        );
        assert!(
            substitute("${{ params.lr", &params())
                .expect_err("unclosed")
                .contains("unclosed")
        );
    }
}
