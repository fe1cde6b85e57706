//! Adds up the results test runners print (cargo's `test result:` lines, Python
//! unittest's `Ran N tests` / `FAILED (...)`, Node's `# pass N` / `# fail N`) into one
//! closing line for the suite.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Tests counted so far.
#[derive(Default)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl Tally {
    /// Runs a test command, echoing its output and adding up its results.
    pub fn run(&mut self, cmd: &mut Command) -> Result<()> {
        eprintln!("+ {cmd:?}");
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        // unittest reports on stderr: read it on a thread so neither pipe fills up.
        let stderr = child.stderr.take().context("no stderr")?;
        let errs = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .inspect(|l| eprintln!("{l}"))
                .collect::<Vec<_>>()
        });
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            lines.push(line);
        }
        lines.extend(errs.join().unwrap_or_default());
        for line in &lines {
            self.count(line);
        }
        if !child.wait()?.success() {
            bail!("command failed: {cmd:?}");
        }
        Ok(())
    }

    fn count(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("test result: ") {
            // cargo: `test result: ok. 18 passed; 0 failed; 2 ignored; ...`
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let n: u64 = n.parse().unwrap_or(0);
                match kind {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.ignored += n,
                    _ => {}
                }
            }
        } else if let Some((kind, n)) = line.strip_prefix("# ").and_then(|r| r.split_once(' ')) {
            // node --test: `# pass 3`, `# fail 0`, `# skipped 0`
            let n: u64 = n.trim().parse().unwrap_or(0);
            match kind {
                "pass" => self.passed += n,
                "fail" => self.failed += n,
                "skipped" | "todo" => self.ignored += n,
                _ => {}
            }
        } else if let Some((p, f)) = plain_counts(line) {
            // The plain closing line of our C tests: `24 passed, 0 failed`
            self.passed += p;
            self.failed += f;
        } else if let Some(rest) = line.strip_prefix("Ran ") {
            // unittest: `Ran 3 tests in 0.001s`; failures are subtracted below.
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()) {
                self.passed += n;
            }
        } else if let Some(rest) = line.strip_prefix("FAILED (") {
            // unittest: `FAILED (failures=1, errors=2, skipped=1)`
            for part in rest.trim_end_matches(')').split(", ") {
                let Some((kind, n)) = part.split_once('=') else {
                    continue;
                };
                let n: u64 = n.parse().unwrap_or(0);
                match kind {
                    "failures" | "errors" => {
                        self.failed += n;
                        self.passed = self.passed.saturating_sub(n);
                    }
                    "skipped" => {
                        self.ignored += n;
                        self.passed = self.passed.saturating_sub(n);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// `N passed, M failed` alone on a line.
fn plain_counts(line: &str) -> Option<(u64, u64)> {
    let (p, f) = line.trim().split_once(", ")?;
    let p = p.strip_suffix(" passed")?.parse().ok()?;
    let f = f.split(',').next()?.strip_suffix(" failed")?.parse().ok()?;
    Some((p, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_and_unittest_lines() {
        let mut t = Tally::default();
        for line in [
            "test result: ok. 18 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
            "Ran 5 tests in 0.001s",
            "FAILED (failures=1, errors=1)",
            "# pass 4",
            "# fail 1",
            "# skipped 2",
            "# duration_ms 275.1",
            "24 passed, 0 failed",
        ] {
            t.count(line);
        }
        assert_eq!((t.passed, t.failed, t.ignored), (52, 4, 4));
    }
}
