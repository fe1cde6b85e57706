//! Command-line syntax.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Weft runs typed YAML workflows of sandboxed WebAssembly steps.
#[derive(Parser, Debug)]
#[command(name = "weft", version, about, long_about = None)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Directory of Weft's local state: artifact store and compile cache.
    #[arg(long, global = true, env = "WEFT_HOME", default_value = ".weft")]
    pub home: PathBuf,
    /// Artifact store: a directory, `file:///abs/dir`, `s3://bucket/prefix` (endpoint,
    /// region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ALLOW_HTTP) or `memory://` [default: HOME/store].
    #[arg(long, global = true, env = "WEFT_STORE")]
    pub store: Option<String>,
    /// Compile cache of components, keyed by digest; safe to share [default: the user's,
    /// `$XDG_CACHE_HOME/weft/compiled` or `~/.cache/weft/compiled`].
    #[arg(long, global = true, env = "WEFT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Run records: a SQLite file, or a PostgreSQL database as
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (it must exist; its tables are created)
    /// [default: HOME/records.db].
    #[arg(
        long,
        global = true,
        env = "WEFT_RECORDS",
        value_name = "FILE|URL",
        hide_env_values = true
    )]
    pub records: Option<String>,
    /// Directory to look for components named in `uses:` (repeatable; searched before
    /// WEFT_PLUGIN_PATH and ./dist/plugins).
    #[arg(long = "plugins", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Workflow inputs (`inputs: path:`) may only be files under DIR, after resolving
    /// symlinks (for a server: the directory of uploaded inputs).
    #[arg(long, global = true, env = "WEFT_INPUTS_ROOT", value_name = "DIR")]
    pub inputs_root: Option<PathBuf>,
    /// Refuse every host path in `inputs:` (for a server that takes only uploaded inputs).
    #[arg(long, global = true, env = "WEFT_NO_HOST_INPUTS", conflicts_with = "inputs_root")]
    pub no_host_inputs: bool,
    /// Largest workflow input file, e.g. `100Gi` [default: 64Gi].
    #[arg(long, global = true, env = "WEFT_MAX_INPUT_SIZE", value_name = "SIZE", value_parser = weft_model::quantity::parse_bytes)]
    pub max_input_size: Option<u64>,
    /// Longest a component may take to compile, e.g. `10m` [default: 5m].
    #[arg(long, global = true, env = "WEFT_COMPILE_TIMEOUT", value_name = "DURATION", value_parser = weft_model::quantity::parse_timeout)]
    pub compile_timeout: Option<std::time::Duration>,
    /// Most memory (address space) compiling a component may use, e.g. `8Gi` [default: 2Gi].
    #[arg(long, global = true, env = "WEFT_COMPILE_MEMORY", value_name = "SIZE", value_parser = weft_model::quantity::parse_bytes)]
    pub compile_memory: Option<u64>,
    /// Largest artifact kept in the run records instead of the store, at most `256Ki`;
    /// `0` keeps every artifact in the store [default: 64Ki].
    #[arg(long, global = true, env = "WEFT_INLINE_MAX", value_name = "SIZE", value_parser = weft_model::quantity::parse_bytes)]
    pub inline_max: Option<u64>,
    /// What a recorded step survives: `process` — `weft` being killed (SQLite WAL with
    /// synchronous=NORMAL; PostgreSQL synchronous_commit=off) — or `power` — the machine
    /// losing power (synchronous=FULL; the server's synchronous_commit, `on` by default),
    /// at a cost per commit.
    #[arg(long, global = true, env = "WEFT_DURABILITY", value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,
    /// A Weft server (`weft serve`) to work with instead of the local records and store:
    /// `run`, `runs`, `logs` and `cancel` go there, e.g. `http://127.0.0.1:8080`.
    #[arg(long, global = true, env = "WEFT_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The tenant token for `--server` (`weft tenant create` prints one).
    #[arg(
        long,
        global = true,
        env = "WEFT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Commits survive the process being killed.
    Process,
    /// Commits survive a power loss.
    Power,
}

impl From<Durability> for weft_records::Durability {
    fn from(d: Durability) -> Self {
        match d {
            Durability::Process => weft_records::Durability::Process,
            Durability::Power => weft_records::Durability::Power,
        }
    }
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a workflow without running anything; lists every problem.
    Validate(WorkflowArgs),
    /// Run a workflow.
    Run(RunArgs),
    /// Work with step components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the artifacts of runs.
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Check the artifact store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Check or recover the run records file.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// Manage the tenants of a shared Weft and their API tokens.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// What a tenant did through the server (submitted, cancelled, resumed, uploaded,
    /// downloaded), oldest first.
    Audit {
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Only entries after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many entries (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API on these records and this store: tenants submit workflows,
    /// follow their runs and download artifacts.
    Serve(ServeArgs),
    /// Execute steps of runs handed to workers (`weft run --on-workers`, or a server on
    /// PostgreSQL): claim them from the shared records, execute, commit, until Ctrl-C or
    /// SIGTERM (the steps it holds are finished first).
    Worker(WorkerArgs),
    /// Compare the metrics steps recorded, across runs.
    Metrics {
        /// Run ids.
        runs: Vec<String>,
        /// Also compare the N most recent runs in the store.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// Only steps whose id starts with this (e.g. `train` for all `train[k]`).
        #[arg(long)]
        step: Option<String>,
    },
    /// Run one step on local files, without a workflow (for plugin authors).
    #[command(subcommand)]
    Step(StepCommand),
    /// List and inspect recorded runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Print the logs of a run's steps.
    Logs {
        /// Run id (`last` for the newest run).
        run: String,
        /// Only this step (or, for a matrix step, all its instances).
        step: Option<String>,
    },
    /// Stop a running run (its running steps stop at once; resume it later with --resume).
    Cancel {
        /// Run id.
        run: String,
    },
    /// Which runs, steps, components, parameters and inputs produced an artifact, back to
    /// the workflow inputs.
    Lineage {
        /// The artifact's digest (`sha256:...`).
        digest: String,
        /// Print the lineage as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Execute one recorded step again from its recorded component, inputs and parameters,
    /// and report whether its outputs are bit-identical.
    Replay {
        /// Run id (`last` for the newest run).
        run: String,
        /// Step id.
        step: String,
    },
    /// Internal: compile the component on stdin to stdout under the given limits (how
    /// `weft` compiles in a child process it can kill).
    #[command(name = "__compile", hide = true)]
    Compile {
        /// Address-space limit, bytes.
        #[arg(long)]
        memory: u64,
        /// Largest component accepted, bytes.
        #[arg(long)]
        max_bytes: u64,
        /// Compile for fuel metering.
        #[arg(long)]
        fuel: bool,
    },
}

/// `weft serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, env = "WEFT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Most steps executing at once over every run of every tenant, shared fairly between
    /// tenants [default: the number of CPUs].
    #[arg(long)]
    pub slots: Option<usize>,
    /// Largest artifact a tenant may upload.
    #[arg(long, value_name = "SIZE", value_parser = weft_model::quantity::parse_bytes, default_value = "1Gi")]
    pub max_upload_size: u64,
    /// A quota every tenant gets unless `weft tenant quota` overrides it: `NAME=VALUE`
    /// (concurrent-steps, concurrent-runs, step-memory, step-timeout, step-fuel,
    /// run-output-bytes, stored-bytes, submissions-per-minute, component-size).
    #[arg(long, value_name = "NAME=VALUE")]
    pub quota: Vec<String>,
    /// Print the API's OpenAPI document and exit.
    #[arg(long)]
    pub openapi: bool,
    /// Where steps execute: `here`, in this process (up to --slots at once), or `workers`,
    /// by `weft worker`s sharing these records and this store [default: workers when the
    /// records are PostgreSQL, else here].
    #[arg(long, value_parser = ["here", "workers"])]
    pub execute: Option<String>,
}

/// `weft worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Most steps executing at once [default: the number of CPUs].
    #[arg(long)]
    pub slots: Option<usize>,
    /// Labels this worker carries: it also executes steps with `runs-on:` one of them
    /// (comma-separated, e.g. `gpu,large-memory`).
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Execute only these tenants' steps (comma-separated) [default: every tenant's].
    #[arg(long, value_delimiter = ',')]
    pub tenants: Vec<String>,
    /// How long a claimed step stays this worker's without a heartbeat (a third of it
    /// between heartbeats); a killed worker's steps run elsewhere after it.
    #[arg(long, value_parser = weft_model::quantity::parse_timeout, default_value = "30s")]
    pub lease: std::time::Duration,
    /// Longest an idle worker waits before looking at the queue again (PostgreSQL wakes it
    /// at once when steps are queued).
    #[arg(long, value_parser = weft_model::quantity::parse_timeout, default_value = "5s")]
    pub poll: std::time::Duration,
    /// Its name in the queue, unique among the workers [default: HOST-PID-RANDOM].
    #[arg(long)]
    pub name: Option<String>,
}

/// `weft runs ...`.
#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// The newest runs: status, steps, reuse, start time and duration.
    List {
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run: every step's status, time, attempts, reuse, outputs and metrics.
    Show {
        /// Run id (`last` for the newest run).
        run: String,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `weft step ...`.
#[derive(Subcommand, Debug)]
pub enum StepCommand {
    /// Run a component on local files and parameters; write its outputs to a directory.
    Run {
        /// The component file.
        file: PathBuf,
        /// Bind an input port to a file, typed by its extension or by a `:TYPE/SUBTYPE`
        /// after it, and held to the port's media type as a workflow holds it (repeatable;
        /// repeat a `many` port for each file).
        #[arg(long = "input", short = 'i', value_name = "PORT=FILE[:TYPE/SUBTYPE]", value_parser = parse_input)]
        inputs: Vec<weft_runner::LocalInput>,
        /// Set a parameter (repeatable).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// Directory for the outputs, one file per output port.
        #[arg(long, default_value = "step-out")]
        out: PathBuf,
        /// Memory limit, e.g. `256Mi` (64Ki to 4Gi) [default: 512Mi].
        #[arg(long, value_parser = checked(weft_model::quantity::parse_memory_limit))]
        memory: Option<String>,
        /// Timeout, e.g. `30s` (at most 168h) [default: 10m].
        #[arg(long, value_parser = checked(weft_model::quantity::parse_timeout))]
        timeout: Option<String>,
    },
}

/// A value parser that checks the text with `parse` (the same bounds as in a workflow)
/// and keeps the text.
fn checked<T>(parse: fn(&str) -> Result<T, String>) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |s| parse(s).map(|_| s.to_string())
}

fn parse_input(s: &str) -> Result<weft_runner::LocalInput, String> {
    weft_runner::LocalInput::parse(s)
}

/// A workflow file and its parameters.
#[derive(Args, Debug)]
pub struct WorkflowArgs {
    /// The workflow YAML file.
    pub file: PathBuf,
    /// Set a workflow parameter (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

/// `weft run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The workflow YAML file (not with --resume).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// Set a workflow parameter (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Continue an interrupted or failed run: steps it committed are kept, the rest run.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["file", "params"])]
    pub resume: Option<String>,
    /// Run every step even when an identical execution is cached.
    #[arg(long)]
    pub no_cache: bool,
    /// Stop the run after this long, e.g. `10m` (ms, s, m or h; at most 168h) [default: the
    /// workflow's `timeout:`, else none].
    #[arg(long, value_parser = weft_model::quantity::parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// Most steps running at once [default: number of CPUs].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Print plain progress lines instead of live bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the run report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Queue the steps for `weft worker`s sharing these records (PostgreSQL) and this
    /// store instead of executing them here, and follow the run until it ends.
    #[arg(long, conflicts_with_all = ["resume", "concurrency", "no_cache"])]
    pub on_workers: bool,
}

/// `weft plugin ...`.
#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Create a new step project: a template with its tests, the SDK and the WIT of this
    /// Weft vendored beside it, and pinned toolchains; it builds and passes its tests as is,
    /// anywhere.
    New {
        /// Language of the step.
        #[arg(long, value_parser = ["rust", "python", "js", "c"])]
        lang: String,
        /// Step name (lowercase letters, digits, `-`, `_`).
        name: String,
        /// Directory to create the project in (as DIR/NAME) [default: the current one].
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
    },
    /// Build a step project into NAME.wasm (NAME from its `describe()`), checked as
    /// `inspect` checks it; says which toolchains are missing and how to install each.
    Build {
        /// The project [default: the current directory].
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run a step project's own tests, build it, and run the component once on its
    /// `test-data/` (a file per input port, named after the port).
    Test {
        /// The project [default: the current directory].
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Publish a step to the registry of the server named by --server (with --token): a
    /// project is built first and its README.md goes with it; a `.wasm` file goes alone.
    Publish {
        /// A step project, or a component file [default: the current directory].
        #[arg(default_value = ".")]
        what: PathBuf,
        /// Let every tenant of the server use it (by digest; by name only its owner and the
        /// server's own steps are found) [default: private to your tenant].
        #[arg(long)]
        public: bool,
    },
    /// Show what a component declares and whether it implements the Weft world.
    Inspect {
        /// The component file.
        file: PathBuf,
    },
}

/// `weft artifact ...`.
#[derive(Subcommand, Debug)]
pub enum ArtifactCommand {
    /// Write an artifact to a file or stdout.
    Get {
        /// A run id followed by STEP.PORT (or `inputs.NAME`), or a digest alone.
        #[arg(required = true, num_args = 1..=2, value_names = ["RUN|DIGEST", "STEP.PORT"])]
        what: Vec<String>,
        /// Output file [default: stdout].
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

/// `weft store ...`.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Read every artifact back and check it against its address; report the bad ones.
    Verify {
        /// Move bad artifacts into the store's quarantine (a run producing them again
        /// stores them afresh; until then, steps needing them fail clearly).
        #[arg(long)]
        repair: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `weft records ...`.
#[derive(Subcommand, Debug)]
pub enum RecordsCommand {
    /// Run SQLite's integrity check on the run records file.
    Check,
    /// Copy what is readable of damaged run records into a fresh file; the damaged file is
    /// kept beside it. Run it while no other `weft` uses the records.
    Recover,
}

/// `weft tenant ...`.
#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant and print its API token (shown once: only its hash is kept).
    Create {
        /// 1 to 63 lowercase letters, digits and `-`.
        name: String,
    },
    /// Give a tenant a new token and print it; the old one stops working at once.
    Token {
        /// The tenant.
        name: String,
    },
    /// List the tenants (never their tokens).
    List,
    /// Show a tenant's quota overrides, or set them: `NAME=VALUE` (`NAME=default` drops
    /// one); the server's `--quota` defaults apply to the rest.
    Quota {
        /// The tenant.
        name: String,
        /// Quotas to set: concurrent-steps, concurrent-runs, step-memory, step-timeout, step-fuel,
        /// run-output-bytes, stored-bytes, submissions-per-minute, component-size.
        #[arg(value_name = "NAME=VALUE")]
        settings: Vec<String>,
    },
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(std::iter::once("weft").chain(args.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn durations_and_sizes_are_bounded_like_in_a_workflow() {
        // A huge `--timeout` once validated and then panicked adding it to an Instant.
        for huge in ["9999999999h", "18446744073709551615s"] {
            let e = parse(&["run", "w.yaml", "--timeout", huge]).expect_err(huge);
            assert!(e.contains("longer than the 168h maximum"), "{e}");
        }
        assert!(parse(&["run", "w.yaml", "--timeout", "0s"]).is_err());
        let ok = parse(&["run", "w.yaml", "--timeout", "150ms"]).expect("valid");
        let Command::Run(run) = ok.command else { panic!("run") };
        assert_eq!(run.timeout, Some(std::time::Duration::from_millis(150)));
        let e = parse(&["step", "run", "c.wasm", "--timeout", "200h"]).expect_err("long");
        assert!(e.contains("168h"), "{e}");
        let e = parse(&["step", "run", "c.wasm", "--memory", "99999999999999999999Gi"]).expect_err("big");
        assert!(e.contains("at most 4Gi"), "{e}");
        assert!(parse(&["step", "run", "c.wasm", "--memory", "64Mi", "--timeout", "30s"]).is_ok());
    }
}
