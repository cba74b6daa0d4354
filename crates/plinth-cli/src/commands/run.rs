//! `plinth run IMAGE -- CMD…`: run a command in an image, in the sandbox, without keeping changes.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use plinth_engine::{NetworkMode, OutputStream, RunOptions};
use plinth_oci::Platform;
use plinth_recipe::ImageSource;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings::{engine, open_store};

/// Arguments of `plinth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image: a name given to `plinth build --tag`, a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE`.
    pub image: String,
    /// The command and its arguments (run directly, not through a shell or the entrypoint).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// The platform to run (arm64 runs through qemu on amd64 hosts).
    #[arg(long, default_value_t = Platform::host())]
    pub platform: Platform,
    /// Run as this user (`name`, `uid`, `name:group`); default: the image's.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Set an environment variable, `NAME=VALUE`; repeatable.
    #[arg(long, short = 'e', value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The working directory (default: the image's).
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    /// No network: only loopback (the same as `--network none`).
    #[arg(long)]
    pub no_network: bool,
}

/// Runs `plinth run`; the exit status is the command's.
pub fn run(args: RunArgs, global: &GlobalArgs, _printer: Printer) -> anyhow::Result<ExitStatus> {
    let store = open_store()?;
    let engine = engine(global, store.clone())?;
    let mut session = match store.get_ref(&args.image)? {
        Some(root) => engine.open_image(&root, &args.platform)?,
        None => {
            let source = ImageSource::parse(&args.image).with_context(|| {
                format!(
                    "`{}` is neither a built image nor an image reference",
                    args.image
                )
            })?;
            engine.open_source(&source, &args.platform)?
        }
    };
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("`--env {kv}`: write it as NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = RunOptions {
        user: args.user.clone(),
        env,
        workdir: args.workdir.clone(),
        network: if args.no_network {
            NetworkMode::None
        } else {
            global.network.mode()
        },
        ..RunOptions::default()
    };
    let mut sink = |stream: OutputStream, chunk: &[u8]| {
        let _ = match stream {
            OutputStream::Stdout => std::io::stdout().lock().write_all(chunk),
            OutputStream::Stderr => std::io::stderr().lock().write_all(chunk),
        };
    };
    let output = session.run(&args.command, &options, &mut sink)?;
    session.reset()?;
    Ok(ExitStatus::Code(output.exit_code))
}
