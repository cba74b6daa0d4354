//! `plinth run IMAGE [CMD…]`: run the image as `docker run` does (ENTRYPOINT + CMD, the
//! arguments replacing CMD), in the sandbox, without keeping changes.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use plinth_engine::{NetworkMode, OutputStream, RunOptions};
use plinth_oci::{ImageConfig, Platform};
use plinth_recipe::ImageSource;

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::exit_status::usage_error;
use crate::printer::Printer;
use crate::settings::{engine, open_store};

/// Arguments of `plinth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image: a name given to `plinth build --tag`, a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE`.
    pub image: String,
    /// The command and its arguments, replacing the image's CMD and given to its ENTRYPOINT, as
    /// `docker run` does. Everything after IMAGE belongs to the command (`--` is optional).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
    /// Run this program instead of the image's ENTRYPOINT, with CMD… as its arguments (the image's
    /// CMD is dropped, as with `docker run --entrypoint`); `--entrypoint ''` runs CMD… alone.
    #[arg(long, value_name = "PROGRAM")]
    pub entrypoint: Option<String>,
    /// The platform to run (default: the host's; arm64 runs through qemu on amd64 hosts).
    #[arg(long, default_value_t = Platform::host())]
    pub platform: Platform,
    /// Run as this user (`name`, `uid`, `name:group`); default: the image's.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Set an environment variable, `NAME=VALUE`, or `NAME` to pass plinth's own value; repeatable.
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
    // `-e NAME` passes the variable from plinth's own environment when set, as docker does.
    let env: Vec<(String, String)> = args
        .env
        .iter()
        .filter_map(|kv| match kv.split_once('=') {
            Some((name, value)) => Some((name.to_owned(), value.to_owned())),
            None => std::env::var(kv).ok().map(|value| (kv.clone(), value)),
        })
        .collect();
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
    let argv = command_line(session.config(), args.entrypoint.as_deref(), &args.command);
    if argv.is_empty() {
        return Err(usage_error(format!(
            "`{}` has no ENTRYPOINT or CMD: say what to run, as in `plinth run {} sh`",
            args.image, args.image
        )));
    }
    let output = session.run(&argv, &options, &mut sink)?;
    session.reset()?;
    Ok(ExitStatus::Code(output.exit_code))
}

/// The argv `docker run` runs: the entrypoint (the image's, or `--entrypoint`'s, empty when that
/// is `''`), then the given arguments, or the image's CMD when none are given and the entrypoint
/// was not replaced (docker drops the image's CMD with `--entrypoint`).
fn command_line(
    config: &ImageConfig,
    entrypoint: Option<&str>,
    arguments: &[String],
) -> Vec<String> {
    let runtime = config.config.clone().unwrap_or_default();
    let (mut argv, image_cmd) = match entrypoint {
        Some("") => (Vec::new(), Vec::new()),
        Some(program) => (vec![program.to_owned()], Vec::new()),
        None => (
            runtime.entrypoint.unwrap_or_default(),
            runtime.cmd.unwrap_or_default(),
        ),
    };
    if arguments.is_empty() {
        argv.extend(image_cmd);
    } else {
        argv.extend(arguments.iter().cloned());
    }
    argv
}

#[cfg(test)]
mod tests {
    use plinth_oci::ImageConfig;

    use super::command_line;

    fn config(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        let mut config = ImageConfig::default();
        let runtime = config.config.get_or_insert_with(Default::default);
        let list =
            |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| (*s).to_owned()).collect());
        runtime.entrypoint = list(entrypoint);
        runtime.cmd = list(cmd);
        config
    }

    fn strings(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_run_does() {
        let image = config(&["/ep.sh", "-x"], &["serve", "--port=80"]);
        assert_eq!(
            command_line(&image, None, &[]),
            strings(&["/ep.sh", "-x", "serve", "--port=80"])
        );
        assert_eq!(
            command_line(&image, None, &strings(&["spec"])),
            strings(&["/ep.sh", "-x", "spec"])
        );
        assert_eq!(
            command_line(&image, Some("/bin/echo"), &[]),
            strings(&["/bin/echo"])
        );
        assert_eq!(
            command_line(&image, Some("/bin/echo"), &strings(&["hi"])),
            strings(&["/bin/echo", "hi"])
        );
        assert_eq!(
            command_line(&image, Some(""), &strings(&["ls"])),
            strings(&["ls"])
        );
        assert!(command_line(&image, Some(""), &[]).is_empty());
        let cmd_only = config(&[], &["sh"]);
        assert_eq!(command_line(&cmd_only, None, &[]), strings(&["sh"]));
        assert_eq!(
            command_line(&cmd_only, None, &strings(&["id", "-u"])),
            strings(&["id", "-u"])
        );
    }
}
