//! A URL as it may be shown: without the secret of its user information. Store and records
//! URLs can carry credentials (`s3://KEY:SECRET@bucket`, `postgres://user:password@host`),
//! and they end up in error messages; this is the one place that hides them.

/// `scheme://user:secret@host/path?query` → `scheme://user@host/path`. A password may hold
/// unencoded `/`, `?` or `#` (a malformed URL, but a real one): the user information is
/// everything up to the *last* `@`, so a secret is hidden even then (erring towards hiding
/// more). The query is dropped: it may carry options such as `password=`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (user, rest) = match rest.rsplit_once('@') {
        Some((userinfo, rest)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            (format!("{user}@"), rest)
        }
        None => (String::new(), rest),
    };
    let rest = rest.split_once(['?', '#']).map_or(rest, |(r, _)| r);
    format!("{scheme}://{user}{rest}")
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn secrets_are_hidden_however_the_url_is_written() {
        let cases = [
            (
                "postgres://weft:s3cret@db:5432/runs?password=x",
                "postgres://weft@db:5432/runs",
            ),
            ("postgres://weft:ab/cd@db/x", "postgres://weft@db/x"),
            ("postgres://weft:ab?cd@db/x", "postgres://weft@db/x"),
            ("postgres://weft:a#b@c@db/x", "postgres://weft@db/x"),
            ("s3://AKIA:secret@bucket/prefix", "s3://AKIA@bucket/prefix"),
            ("s3://bucket/prefix", "s3://bucket/prefix"),
            ("postgresql://h/d", "postgresql://h/d"),
            ("/a/dir", "/a/dir"),
        ];
        for (url, shown) in cases {
            assert_eq!(shown_url(url), shown, "{url}");
            assert!(!shown_url(url).contains("secret") && !shown_url(url).contains("s3cret"));
        }
    }
}
