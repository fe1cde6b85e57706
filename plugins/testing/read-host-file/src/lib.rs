//! Test guest `read-host-file`: Tries to read host files; succeeds only if the sandbox leaks them.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-read-host-file".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Tries to read host files; succeeds only if the sandbox leaks them.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        for path in ["/etc/passwd", "/etc/hostname", ".", "/"] {
            match std::fs::read_dir(path)
                .map(|_| ())
                .or_else(|_| std::fs::read(path).map(|_| ()))
            {
                Ok(()) => return Err(weft_step::failed(format!("SANDBOX LEAK: read {path}"))),
                Err(e) => weft_step::log(weft_step::Level::Info, &format!("{path}: {e}")),
            }
        }
        if std::env::vars().next().is_some() {
            return Err(weft_step::failed("SANDBOX LEAK: environment variables are visible"));
        }
        Err(weft_step::bad_input("no host file was readable"))
    }
}

weft_step::export!(G);
