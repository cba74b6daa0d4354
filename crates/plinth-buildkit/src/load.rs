//! Loading an image into the local docker daemon (`plinth build --load`, as
//! `docker buildx build --load`): a docker-archive handed to `docker load`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::docker::{DOCKER_CLIENT_ENV, run_with_timeout};
use crate::error::{Error, Result};

/// How long `docker load` may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// Loads the docker-archive `archive` into the daemon the docker client talks to (its
/// `DOCKER_HOST` and context); returns what `docker load` printed (`Loaded image: …`).
///
/// Fails with a message saying what to do when there is no docker client or no daemon.
pub fn load_into_docker(archive: &Path) -> Result<String> {
    let program = std::env::var_os(DOCKER_CLIENT_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "docker".into());
    let mut probe = Command::new(&program);
    probe.args(["version", "--format", "{{.Server.Version}}"]);
    let reachable = run_with_timeout(&mut probe, Duration::from_secs(20));
    let why = match &reachable {
        Err(e) => Some(format!(
            "`{}` cannot be run: {e}",
            program.to_string_lossy()
        )),
        Ok(out) if !out.status.success() => Some(format!(
            "the docker daemon does not answer: {}",
            crate::docker::tail(&out.stderr, 3)
        )),
        Ok(_) => None,
    };
    if let Some(why) = why {
        return Err(Error::Load(format!(
            "`--load` puts the image into a local docker daemon, and {why}; \
             write it with `--output type=docker,dest=FILE` (then `docker load -i FILE` where docker runs) \
             or `--output type=oci,dest=FILE`"
        )));
    }
    let mut load = Command::new(&program);
    load.arg("load").arg("-i").arg(archive);
    let out = crate::docker::run_docker(&mut load, LOAD_TIMEOUT)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
