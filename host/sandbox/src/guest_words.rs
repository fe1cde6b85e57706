//! What a step that crashed said about it, in its own words: the author's exception or
//! panic, and where in the author's code, from the guest's stderr. The language runtimes'
//! own noise around it goes: componentize-py's "Python function threw an unexpected
//! exception" panic, SpiderMonkey's abort redirection, the hint to set `RUST_BACKTRACE`
//! (a sandboxed step cannot), and componentize-js's complaint that a thrown `Error` is no
//! `StepError` variant (its message is kept). Whether the wasm trap is shown beside them is
//! `execution.rs`'s call: an `unreachable` (a panic, an abort) adds nothing to them.

/// Longest account kept: a guest writes up to 256 KiB of stderr, a message is one line.
const MAX_WORDS: usize = 4096;

/// What the guest's stderr says, with its runtime's noise gone.
pub(crate) struct Words {
    /// Its panic, exception or error, recognised as such (with where it happened).
    pub recognised: Option<String>,
    /// Its last few lines as it wrote them (joined by `; `), if it wrote any.
    pub tail: Option<String>,
}

/// Whether line `i` of `lines` is noise no author wrote and none can act on.
fn is_noise(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    line.is_empty()
        || line.starts_with("note: run with `RUST_BACKTRACE=1`")
        || line == "Python function threw an unexpected exception"
        || line == "Redirecting call to abort() to mozalloc_abort"
        // componentize-py's runtime panics right after a Python exception; a step's own
        // panic at a file of that name is not followed by this line.
        || (line.starts_with("thread '")
            && line.contains(" panicked at runtime/src/lib.rs")
            && lines.get(i + 1).is_some_and(|next| next.trim() == "Python function threw an unexpected exception"))
}

/// The guest's own account of its crash, from its stderr.
pub(crate) fn guest_words(stderr: &str) -> Words {
    let all: Vec<&str> = stderr.lines().collect();
    let lines: Vec<&str> = (0..all.len()).filter(|&i| !is_noise(&all, i)).map(|i| all[i]).collect();
    let recognised = rust_panic(&lines)
        .or_else(|| python_exception(&lines))
        .or_else(|| js_error(&lines))
        .map(|words| capped(&words));
    let tail = &lines[lines.len().saturating_sub(5)..];
    let tail = (!tail.is_empty()).then(|| capped(&tail.iter().map(|l| l.trim()).collect::<Vec<_>>().join("; ")));
    Words { recognised, tail }
}

/// `text` cut to [`MAX_WORDS`] bytes (on a character boundary).
fn capped(text: &str) -> String {
    if text.len() <= MAX_WORDS {
        return text.to_string();
    }
    let mut end = MAX_WORDS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `thread '<unnamed>' (1) panicked at src/lib.rs:22:9:` and the message after it.
fn rust_panic(lines: &[&str]) -> Option<String> {
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("thread '") && l.contains(" panicked at "))?;
    let place = lines[at].split(" panicked at ").nth(1)?.trim_end_matches(':');
    let message: Vec<&str> = lines[at + 1..].iter().map(|l| l.trim()).collect();
    Some(format!("panicked at {place}: {}", message.join(" ")))
}

/// A Python traceback: the exception line, and the innermost frame it was raised in.
fn python_exception(lines: &[&str]) -> Option<String> {
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last)"))?;
    let rest = &lines[start + 1..];
    // The frames are indented; the exception is the first line that is not.
    let exception = rest.iter().find(|l| !l.starts_with(' '))?.trim();
    let frame = rest
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("File \""))
        .and_then(|f| f.split_once("\", line "))
        .map(|(path, rest)| {
            // componentize-py bundles the project's directories as `/0/`, `/1/`, …
            let file = path.split('/').next_back().unwrap_or(path);
            let (line, function) = rest.split_once(", in ").unwrap_or((rest, ""));
            format!(" ({file}, line {line}, in {function})")
        })
        .unwrap_or_default();
    Some(format!("{exception}{frame}"))
}

/// A JavaScript error: its message (also when componentize-js rejected it as no
/// `StepError`), and the innermost frame of the author's code on the `Stack:` below it.
fn js_error(lines: &[&str]) -> Option<String> {
    // The last error thrown, and only the line that says it (what was logged before is
    // the step's log, not its error).
    let stack = lines.iter().rposition(|l| l.trim() == "Stack:")?;
    let said = lines[..stack].last()?.trim();
    let message = match said.split_once("(received `") {
        Some((_, rest)) => rest.split("`)").next().unwrap_or(rest).to_string(),
        None => said.trim().to_string(),
    };
    // Frames of the component's generated glue are not the author's.
    let frame = lines[stack + 1..]
        .iter()
        .map(|l| l.trim())
        .find(|f| !f.contains("/sources/initializer.js") && f.contains('@'))
        .and_then(|f| f.split_once('@'))
        .map(|(function, place)| format!(" ({place}, in {function})"))
        .unwrap_or_default();
    Some(format!("{message}{frame}"))
}

#[cfg(test)]
mod tests {
    use super::guest_words;

    // What each language's runtime printed when a step crashed (captured from the
    // templates with a line changed).

    #[test]
    fn a_rust_panic_is_its_place_and_message_once() {
        let stderr = "\nthread '<unnamed>' (1) panicked at testing/panic/src/lib.rs:22:9:\ndeliberate panic from test guest\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            guest_words(stderr).recognised.as_deref(),
            Some("panicked at testing/panic/src/lib.rs:22:9: deliberate panic from test guest")
        );
        // A step's own file may be called runtime/src/lib.rs.
        let own = "thread '<unnamed>' (1) panicked at runtime/src/lib.rs:3:5:\nmine\n";
        assert_eq!(
            guest_words(own).recognised.as_deref(),
            Some("panicked at runtime/src/lib.rs:3:5: mine")
        );
    }

    #[test]
    fn a_python_exception_is_its_type_message_and_frame() {
        let stderr = "Traceback (most recent call last):\n  File \"/0/app.py\", line 9, in describe\nKeyError: 'missing_key'\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1280:25:\nPython function threw an unexpected exception\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            guest_words(stderr).recognised.as_deref(),
            Some("KeyError: 'missing_key' (app.py, line 9, in describe)")
        );
    }

    #[test]
    fn a_javascript_error_is_its_message_and_the_authors_frame() {
        let describe = "describe broke\nStack:\n  describe@app.js:7:11\n  export_step_0_1_0$describe@/tmp/84bce49c021d/sources/initializer.js:771:15\n\nRedirecting call to abort() to mozalloc_abort\n";
        assert_eq!(
            guest_words(describe).recognised.as_deref(),
            Some("describe broke (app.js:7:11, in describe)")
        );
        // What was logged before the error is not the error.
        let logged = format!("reading rows\nrow 1\n{describe}");
        assert_eq!(
            guest_words(&logged).recognised.as_deref(),
            Some("describe broke (app.js:7:11, in describe)")
        );
        let thrown = "invalid variant tag value `undefined` (received `TypeError: can't access property \"boom\" of null`) specified for `StepError`\nStack:\n  export_step_0_1_0$run@/tmp/f9c39c03b192/sources/initializer.js:1060:17\n\nRedirecting call to abort() to mozalloc_abort\n";
        assert_eq!(
            guest_words(thrown).recognised.as_deref(),
            Some("TypeError: can't access property \"boom\" of null")
        );
    }

    #[test]
    fn anything_else_is_its_last_lines_and_silence_is_none() {
        let words = guest_words("reading input\nbad header: x\n");
        assert_eq!(words.recognised, None);
        assert_eq!(words.tail.as_deref(), Some("reading input; bad header: x"));
        let silent = guest_words("\n\nnote: run with `RUST_BACKTRACE=1` env\n");
        assert!(silent.recognised.is_none() && silent.tail.is_none());
    }

    #[test]
    fn an_account_is_capped() {
        let long = format!("thread 'main' panicked at a.rs:1:1:\n{}\n", "é".repeat(100_000));
        let words = guest_words(&long).recognised.expect("a panic");
        assert!(words.len() <= super::MAX_WORDS + "…".len() && words.ends_with('…'));
    }
}
