//! The command-line surface: clap structs only. Doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::printer::Verbosity;

/// plinth: declare, build, check, version and publish container base images.
#[derive(Debug, Parser)]
#[command(
    name = "plinth",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = crate::exit_status::EXIT_CODES_HELP
)]
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
    /// How build steps and transfers are shown: `auto` (`tty` when stderr is a terminal, else
    /// `plain`), `plain` (BuildKit's plain lines: `#N [k/n] STEP`, each output line as
    /// `#N SECONDS LINE`, `#N DONE 0.4s` or `#N CACHED`), `tty` (live spinners and bars; stderr
    /// must be a terminal) or `quiet` (only the result, as `-q`).
    #[arg(long, value_enum, default_value_t, global = true)]
    pub progress: ProgressArg,
    /// Speak plain HTTP (and skip TLS checks) to this registry; repeatable. Loopback registries never need it.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]", global = true)]
    pub insecure_registries: Vec<String>,
    /// A mirror to try before docker.io for pulls (`host[:port]`), repeatable.
    #[arg(long = "registry-mirror", value_name = "HOST[:PORT]", global = true)]
    pub registry_mirrors: Vec<String>,
    /// The registry release commands publish to and list tags from (default docker.io).
    #[arg(long, value_name = "HOST[:PORT]", global = true)]
    pub registry: Option<String>,
    /// Publish families under this namespace instead of their own (`team` → `<registry>/team/<name>`).
    #[arg(long, value_name = "NAMESPACE", global = true)]
    pub namespace: Option<String>,
    /// Serve URL inputs under PREFIX from another base URL or a local directory; repeatable.
    #[arg(long = "url-mirror", value_name = "PREFIX=URL-OR-DIR", global = true)]
    pub url_mirrors: Vec<String>,
    /// Make Debian roots (`plinth/debian:SUITE…`) from this archive (serving `dists/SUITE/InRelease`, e.g. `http://deb.debian.org/debian`) instead of the machine's apt sources (its signatures are still checked against Debian's keyring, or `--apt-keyring`'s); `plinth outdated` reads the suite's package index there.
    #[arg(long = "apt-mirror", value_name = "URL", global = true)]
    pub apt_mirror: Option<String>,
    /// Check the archive's `InRelease` signatures (Debian roots, `plinth outdated`) against this keyring instead of Debian's (`/usr/share/keyrings/debian-archive-keyring.gpg`), for a mirror signed with its own key.
    #[arg(long = "apt-keyring", value_name = "FILE", global = true)]
    pub apt_keyring: Option<std::path::PathBuf>,
    /// Build steps and runs trust the CA certificates in FILE (e.g. the host's `/etc/ssl/certs/ca-certificates.crt` behind a TLS-intercepting proxy); mounted for the step only, images do not change. Also `PLINTH_STEP_CA_BUNDLE`.
    #[arg(long = "step-ca-bundle", value_name = "FILE", global = true)]
    pub step_ca_bundle: Option<std::path::PathBuf>,
    /// Build from image TO wherever a recipe starts from FROM (`repo`, `repo:tag` or a full address; TO any image source); repeatable. Such stand-in builds are only publishable to a loopback registry.
    #[arg(long = "substitute-image", value_name = "FROM=TO", global = true)]
    pub substitute_images: Vec<String>,
    /// The catalog directory (generated/changelogs, the catalog README); default: the nearest directory holding generated/changelogs, else ./catalog.
    #[arg(long, value_name = "DIR", global = true)]
    pub catalog_dir: Option<std::path::PathBuf>,
    /// The network of build steps and `plinth run`: `default` (a network namespace of their own with outbound access; the host's loopback services are out of reach), `host` (the host's network, as `docker build --network=host`) or `none` (loopback only). A step's `--network=none` always wins.
    #[arg(long, value_enum, default_value_t, global = true)]
    pub network: NetworkArg,
}

/// The values of `--progress`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    /// `tty` on a terminal (unless `-v` or `PLINTH_NO_PROGRESS`), else `plain`.
    #[default]
    Auto,
    /// Plain lines as BuildKit's `--progress=plain`, with each step's output streamed.
    Plain,
    /// Spinners and bars redrawn in place.
    Tty,
    /// Only results and errors.
    Quiet,
}

/// The values of `--network`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// A network namespace of the step's own, outbound access through slirp4netns.
    #[default]
    Default,
    /// The host's network namespace.
    Host,
    /// Only loopback.
    None,
}

impl NetworkArg {
    /// The sandbox's network mode.
    pub fn mode(self) -> plinth_engine::NetworkMode {
        match self {
            NetworkArg::Default => plinth_engine::NetworkMode::Private,
            NetworkArg::Host => plinth_engine::NetworkMode::Host,
            NetworkArg::None => plinth_engine::NetworkMode::None,
        }
    }
}

impl GlobalArgs {
    /// The verbosity the flags select.
    pub fn verbosity(&self) -> Verbosity {
        match (
            self.quiet || self.progress == ProgressArg::Quiet,
            self.verbose,
        ) {
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
    /// Print an image's SBOM (SPDX 2.3 or CycloneDX 1.5 JSON), generated from the package databases in its layers.
    Sbom(commands::sbom::SbomArgs),
    /// Compare two images or two family versions: packages added/removed/upgraded, config fields, files and sizes per layer.
    Diff(commands::diff::DiffArgs),
    /// Rebuild a published version from its recipe in an empty store and compare every digest (`--rebuild`); exit 1 with file-level differences when they differ.
    Verify(commands::verify::VerifyArgs),
    /// List a repository's tags with their digests, semver-sorted.
    Ls(commands::ls::LsArgs),
    /// Copy an image between registries, OCI layouts and docker-archive files.
    Copy(commands::copy::CopyArgs),
    /// Remove blobs no image in the local store refers to.
    Gc(commands::gc::GcArgs),
    /// Build a catalog version or a Dockerfile (embedded daemonless engine, or BuildKit with --engine buildkit).
    ///
    /// On success stdout holds one line: the image's digest (its manifest, or its index when
    /// several platforms are built), what `--push` and `plinth run` name. Under `-q` (or
    /// `--progress quiet`) it is docker's image ID instead, as `docker build -q` prints it: the
    /// config digest (`sha256:…`) for one platform, the index digest for several; the same
    /// value `--iidfile` writes.
    Build(commands::build::BuildArgs),
    /// Run sanity checks in an image on every platform (a catalog version's, container-structure-test files).
    Check(commands::check::CheckCommandArgs),
    /// Print a recipe's Dockerfile view (the original's example format, or a buildable one).
    Dockerfile(commands::dockerfile::DockerfileArgs),
    /// Run an image as `docker run` does (ENTRYPOINT + CMD), in the sandbox; changes are thrown away.
    Run(commands::run::RunArgs),
    /// Cut a new version of a base image family: build, check every platform, publish, record.
    GenerateRelease(commands::generate_release::GenerateReleaseArgs),
    /// Publish a specific version of a base image to our remote registry.
    Publish(commands::publish::PublishArgs),
    /// Write the catalog README.md and generated/registry.json (or check them with --check).
    GenerateDocs(commands::generate_docs::GenerateDocsArgs),
    /// List the catalog: every family's versions, declared, buildable, published, with their provenance and notes.
    Catalog(commands::catalog::CatalogArgs),
    /// Before any build: root tags that moved, apt pins the root's suite no longer carries, pip pins with newer releases; exit 1 when a pin cannot install.
    Outdated(commands::outdated::OutdatedArgs),
    /// Print the provenance (or, with --check-report, the sanity-check report) attached to a published image.
    Provenance(commands::provenance::ProvenanceArgs),
    /// Print the address@digest consumers should pin.
    Latest(commands::latest::LatestArgs),
    /// Pin consumers (Dockerfiles' FROM lines, connectors' metadata.yaml) to the latest stable published version.
    UpgradeConsumers(commands::upgrade_consumers::UpgradeConsumersArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page, or write one per command with --dir.
    Man(commands::man::ManArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
