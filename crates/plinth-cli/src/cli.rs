//! The command-line surface: clap structs only. Doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::printer::Verbosity;

/// plinth: declare, build, check, version and publish container base images.
#[derive(Debug, Parser)]
#[command(name = "plinth", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print more (debug logs; plain progress lines instead of bars).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Speak plain HTTP (and skip TLS checks) to this registry; repeatable. Loopback registries never need it.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]", global = true)]
    pub insecure_registries: Vec<String>,
    /// A mirror to try before docker.io for pulls (`host[:port]`), repeatable.
    #[arg(long = "registry-mirror", value_name = "HOST[:PORT]", global = true)]
    pub registry_mirrors: Vec<String>,
}

impl GlobalArgs {
    /// The verbosity the flags select.
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an image's manifest or index and config.
    Inspect(commands::inspect::InspectArgs),
    /// List a repository's tags with their digests, semver-sorted.
    Ls(commands::ls::LsArgs),
    /// Copy an image between registries, OCI layouts and docker-archive files.
    Copy(commands::copy::CopyArgs),
    /// Remove blobs no image in the local store refers to.
    Gc(commands::gc::GcArgs),
}
