//! Where things live: the local state directory, the store (and, for `s3://`, its
//! endpoint and credentials), the compile cache and the plugin search path, from flags and
//! environment.

use crate::cli::GlobalArgs;
use crate::inputs::InputPolicy;
use std::path::PathBuf;

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
    /// The run records database (SQLite).
    pub records_path: PathBuf,
    /// Which host files a workflow may read as inputs.
    pub input_policy: InputPolicy,
    /// How components are compiled: in a child `weft` process under these limits.
    pub compile: weft_sandbox::CompileProcess,
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
        Ok(Settings {
            store_url,
            s3: s3_from_env(),
            cache_dir: args
                .cache_dir
                .clone()
                .unwrap_or_else(|| args.home.join("cache/compiled")),
            plugin_path,
            records_path: args.records.clone().unwrap_or_else(|| args.home.join("records.db")),
            input_policy,
            compile,
        })
    }

    /// Opens the artifact store named by `--store` / `WEFT_STORE`.
    pub fn open_store(&self) -> Result<weft_artifacts::ArtifactStore, weft_artifacts::ArtifactError> {
        weft_artifacts::ArtifactStore::open_with(&self.store_url, &self.s3)
    }

    /// Opens the run records (creating and migrating the database when needed).
    pub async fn records(&self) -> anyhow::Result<weft_records::Records> {
        weft_records::Records::open(&self.records_path, TENANT, weft_records::Durability::default())
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", self.records_path.display()))
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
