//! Where things live: the local state directory, the store (and, for `s3://`, its
//! endpoint and credentials), the compile cache and the plugin search path, from flags and
//! environment.

use crate::cli::GlobalArgs;
use std::path::PathBuf;
use weft_runner::InputPolicy;

/// Resolved settings.
pub struct Settings {
    /// Store URL.
    pub store_url: String,
    /// How to reach an `s3://` store: the usual AWS variables.
    pub s3: weft_artifacts::S3Config,
    /// Compile-cache directory.
    pub cache_dir: PathBuf,
    /// Directories searched for `uses: NAME`, in order.
    pub plugin_path: Vec<PathBuf>,
    /// The run records: a SQLite file or a PostgreSQL database.
    pub records: weft_records::Location,
    /// Which host files a workflow may read as inputs.
    pub input_policy: InputPolicy,
    /// How components are compiled: in a child `weft` process under these limits.
    pub compile: weft_sandbox::CompileProcess,
    /// Largest artifact kept in the run records (0: none).
    pub inline_max: u64,
    /// What a recorded step survives.
    pub durability: weft_records::Durability,
}

/// The only tenant the CLI serves.
pub const TENANT: &str = "default";

impl Settings {
    /// Reads flags and `WEFT_PLUGIN_PATH`.
    pub fn from_args(args: &GlobalArgs) -> anyhow::Result<Settings> {
        let store_url = args
            .store
            .clone()
            .unwrap_or_else(|| args.home.join("store").display().to_string());
        let mut plugin_path = args.plugin_dirs.clone();
        if let Some(p) = std::env::var_os("WEFT_PLUGIN_PATH") {
            plugin_path.extend(std::env::split_paths(&p));
        }
        plugin_path.push(PathBuf::from("dist/plugins"));
        let input_policy = InputPolicy::new(args.inputs_root.as_deref(), args.no_host_inputs, args.max_input_size)?;
        // The compiler child is this very executable (`weft __compile`), so its code is
        // exactly what this process would have compiled.
        let program = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot find the weft executable to compile components with: {e}"))?;
        let compile = weft_sandbox::CompileProcess {
            program,
            args: vec!["__compile".into()],
            timeout: args.compile_timeout.unwrap_or(weft_sandbox::DEFAULT_COMPILE_TIMEOUT),
            memory: args.compile_memory.unwrap_or(weft_sandbox::DEFAULT_COMPILE_MEMORY),
        };
        let records = match &args.records {
            Some(text) => weft_records::Location::parse(text),
            None => weft_records::Location::Sqlite(args.home.join("records.db")),
        };
        let inline_max = args.inline_max.unwrap_or(weft_artifacts::INLINE_MAX);
        if inline_max > weft_artifacts::WHOLE_LIMIT {
            anyhow::bail!(
                "--inline-max {inline_max} is too large: artifacts kept in the run records are at most {} bytes",
                weft_artifacts::WHOLE_LIMIT
            );
        }
        Ok(Settings {
            store_url,
            s3: s3_from_env(),
            cache_dir: args
                .cache_dir
                .clone()
                .or_else(user_cache_dir)
                .unwrap_or_else(|| args.home.join("cache/compiled")),
            plugin_path,
            records,
            input_policy,
            compile,
            inline_max,
            durability: args.durability.into(),
        })
    }

    /// How workflows are loaded: notes are printed on stderr.
    pub fn loader(&self) -> weft_runner::Loader {
        weft_runner::Loader {
            plugin_path: self.plugin_path.clone(),
            input_policy: self.input_policy.clone(),
            sandbox: weft_sandbox::SandboxConfig {
                cache_dir: Some(self.cache_dir.clone()),
                compile_process: Some(self.compile.clone()),
                ..weft_sandbox::SandboxConfig::default()
            },
            notes: std::sync::Arc::new(|note| eprintln!("{note}")),
            sandboxes: weft_runner::Sandboxes::default(),
        }
    }

    /// The run lifecycle over the configured store and records.
    pub async fn runner(&self) -> anyhow::Result<weft_runner::Runner> {
        let (records, store) = self.store_and_records().await?;
        Ok(weft_runner::Runner {
            loader: self.loader(),
            store,
            records,
        })
    }

    /// The records and the store, sharing the small-artifact tier: small artifacts live in
    /// the records, so whatever reads artifacts where records exist opens both this way.
    pub async fn store_and_records(&self) -> anyhow::Result<(weft_records::Records, weft_artifacts::ArtifactStore)> {
        let records = self.records().await?;
        let store = self
            .open_store()
            .map_err(|e| anyhow::anyhow!("opening store {}: {e}", weft_artifacts::shown_url(&self.store_url)))?;
        Ok(weft_records::share_small_artifacts(records, store, self.inline_max))
    }

    /// Opens the artifact store named by `--store` / `WEFT_STORE`, without the artifacts
    /// kept in the records (see [`Settings::store_and_records`]).
    pub fn open_store(&self) -> Result<weft_artifacts::ArtifactStore, weft_artifacts::ArtifactError> {
        weft_artifacts::ArtifactStore::open_with(&self.store_url, &self.s3)
    }

    /// Opens the run records (creating and migrating the database when needed).
    pub async fn records(&self) -> anyhow::Result<weft_records::Records> {
        weft_records::Records::open(&self.records, TENANT, self.durability)
            .await
            .map_err(|e| match e {
                // Names the server already (without the password).
                weft_records::RecordsError::Unreachable { .. } => anyhow::anyhow!("{e}"),
                _ => anyhow::anyhow!("{e} ({})", self.records),
            })
    }
}

/// The S3 settings from the variables the AWS tools read. The secret and token pass into
/// the store's client only: they are never printed, logged, nor handed to a step.
fn s3_from_env() -> weft_artifacts::S3Config {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    weft_artifacts::S3Config {
        endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
        region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        session_token: var("AWS_SESSION_TOKEN"),
        allow_http: var("AWS_ALLOW_HTTP").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
    }
}

/// The user's compile cache, shared by every working directory (components compile once
/// per user, not once per project): `$XDG_CACHE_HOME/weft/compiled`, else
/// `$HOME/.cache/weft/compiled`; `None` when neither names an absolute directory or it
/// cannot be created.
fn user_cache_dir() -> Option<PathBuf> {
    let absolute = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let dir = absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))?
        .join("weft/compiled");
    // A service user's home may not exist or be read-only: then the home's cache.
    std::fs::create_dir_all(&dir).ok().map(|()| dir)
}
