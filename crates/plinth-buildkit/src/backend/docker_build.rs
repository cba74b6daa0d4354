//! The `docker` commands of one platform's build: `docker build` with the options' flags, its
//! progress read as it runs, then `docker save` into the store and the temporary tag removed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use plinth_executor::BuildOptions;
use plinth_oci::{Descriptor, Digest, ImageConfig, ImageManifest, ManifestDocument, Platform};

use super::names::{platform_cache_ref, write_secret};
use super::{BuildkitBackend, INFO_TIMEOUT, TRANSFER_TIMEOUT};
use crate::docker::run_docker;
use crate::docker_host::{DockerHost, DockerHostInfo};
use crate::error::{Error, Result};
use crate::prepare::Prepared;
use crate::progress::ProgressReader;

/// What `docker save` gave back, read into the store.
type Imported = (Descriptor, ImageManifest, Descriptor, ImageConfig);

impl BuildkitBackend {
    /// `docker build` of the materialised `context` for `platform` on `builder`, tagged `tag`,
    /// with plain progress and the configured cache import and export.
    pub(super) fn build_command(
        &self,
        builder: &DockerHost,
        platform: &Platform,
        no_cache: bool,
        tag: &str,
        context: &Path,
    ) -> Command {
        let mut cmd = self.docker.command(builder);
        cmd.args(self.docker.build_words())
            .args([
                "--progress=plain",
                "--platform",
                &platform.to_string(),
                "-t",
                tag,
            ])
            .arg("-f")
            .arg(context.join(crate::context::DOCKERFILE));
        if no_cache {
            cmd.arg("--no-cache");
        }
        // Roots handed to the builder are named locally: `--pull` would look them up remotely.
        if self.config.always_pull && self.config.roots.is_none() {
            cmd.arg("--pull");
        }
        for from in &self.config.cache_from {
            cmd.args(["--cache-from", &platform_cache_ref(from, platform)]);
        }
        if self.config.cache_to.is_some() {
            cmd.args(["--build-arg", "BUILDKIT_INLINE_CACHE=1"]);
        }
        cmd.arg(context);
        cmd
    }

    /// The flags the build options add: secrets as files of the work dir, SSH agents, the host
    /// network where the builder takes `--allow`, and labels.
    pub(super) fn add_option_flags(
        &self,
        cmd: &mut Command,
        prepared: &Prepared,
        options: &BuildOptions,
        info: &DockerHostInfo,
        work: &Path,
    ) -> Result<()> {
        // Secrets reach the builder as files of the work dir (0600, removed with it); the
        // command line names their paths only.
        let secrets_dir = work.join("secrets");
        for (n, id) in prepared.container.secret_ids().iter().enumerate() {
            let Some(value) = options.secrets.get(id) else {
                continue;
            };
            std::fs::create_dir_all(&secrets_dir).map_err(Error::io("create", &secrets_dir))?;
            let file = secrets_dir.join(format!("secret-{n}"));
            write_secret(&file, value.expose())?;
            cmd.arg("--secret")
                .arg(format!("id={id},src={}", file.display()));
        }
        // SSH agents go as docker's own `--ssh`: the docker client forwards them to the
        // builder through its session, as it does for `docker build --ssh`.
        for id in prepared.container.ssh_ids() {
            if let Some(flag) = options.ssh.docker_flag(&id) {
                cmd.arg("--ssh").arg(flag);
            }
        }
        if options.allow_host_network
            && info.supports_network_flag()
            && self.docker.mode() == crate::docker::BuildMode::Buildx
        {
            cmd.args(["--allow", "network.host"]);
        }
        // BuildKit's own `--label`: the final image only, no history entry.
        for (name, value) in &options.labels {
            cmd.arg("--label").arg(format!("{name}={value}"));
        }
        Ok(())
    }

    /// Runs `docker build`, feeding each line of its plain progress to `reader`.
    pub(super) fn run_build(
        &self,
        mut cmd: Command,
        platform: &Platform,
        reader: &mut ProgressReader<'_>,
    ) -> Result<()> {
        tracing::debug!(command = %crate::docker::describe(&cmd), "build");
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("run", self.docker.program()))?;
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines() {
                let line = line.map_err(Error::io("read the output of", self.docker.program()))?;
                let line = reader.redacted(&line);
                tracing::trace!(%platform, "{line}");
                reader.feed(&line);
            }
        }
        let status = child
            .wait()
            .map_err(Error::io("wait for", self.docker.program()))?;
        if !status.success() {
            return Err(Error::BuildFailed(Box::new(reader.failure())));
        }
        Ok(())
    }

    /// Imports the built image, exports the cache when configured, and removes the temporary
    /// tag whether the import worked or not.
    pub(super) fn import_and_untag(
        &self,
        builder: &DockerHost,
        tag: &str,
        work: &Path,
        platform: &Platform,
    ) -> Result<Imported> {
        let result = self.import(builder, tag, work, platform);
        if let (Ok(_), Some(cache_to)) = (&result, &self.config.cache_to) {
            self.push_cache(builder, tag, &platform_cache_ref(cache_to, platform))?;
        }
        let mut rmi = self.docker.command(builder);
        rmi.args(["rmi", "--no-prune", tag]);
        if let Err(e) = run_docker(&mut rmi, INFO_TIMEOUT) {
            tracing::warn!(%builder, %tag, "cannot remove the temporary image tag: {e}");
        }
        result
    }

    /// `docker save` of the result, read into the store.
    fn import(
        &self,
        builder: &DockerHost,
        tag: &str,
        work: &Path,
        platform: &Platform,
    ) -> Result<Imported> {
        // The image id is the daemon's config digest: an image imported before (a warm build)
        // with the same rewrite is found by it without `docker save`.
        let mut inspect = self.docker.command(builder);
        inspect.args(["image", "inspect", "--format", "{{.Id}}", tag]);
        let id = String::from_utf8_lossy(&run_docker(&mut inspect, INFO_TIMEOUT)?.stdout)
            .trim()
            .to_owned();
        let restamp = self.config.source_date_epoch;
        let known_ref = id.parse::<Digest>().ok().map(|d| match restamp {
            Some(epoch) => format!("buildkit/images/{}-epoch-{epoch}", d.hex()),
            None => format!("buildkit/images/{}", d.hex()),
        });
        if let Some(name) = &known_ref
            && let Some(manifest) = self.config.store.get_ref(name)?
            && let Ok(ManifestDocument::Image(doc)) = self.config.store.read_document(&manifest)
            && self
                .config
                .store
                .walk(&manifest)
                .is_ok_and(|all| all.iter().all(|d| self.config.store.has_blob(&d.digest)))
        {
            let config = ImageConfig::parse(&self.config.store.read_blob(&doc.config.digest)?)?;
            tracing::debug!(%tag, %manifest.digest, "already imported");
            let config_descriptor = doc.config.clone();
            return Ok((manifest, doc, config_descriptor, config));
        }
        let archive = work.join("image.tar");
        let mut save = self.docker.command(builder);
        save.args(["save", "-o"]).arg(&archive).arg(tag);
        run_docker(&mut save, TRANSFER_TIMEOUT)?;
        let mut images = plinth_oci::docker_archive::read_docker_archive_with(
            &self.config.store,
            &archive,
            plinth_oci::docker_archive::ImportOptions { restamp },
        )?;
        let image = images.pop().ok_or_else(|| Error::Docker {
            command: format!("docker save {tag}"),
            status: "exit status: 0".into(),
            detail: "the archive holds no image".into(),
        })?;
        let config = ImageConfig::parse(&self.config.store.read_blob(&image.config.digest)?)?;
        if config.os != platform.os || config.architecture != platform.architecture {
            return Err(Error::WrongPlatform {
                builder: builder.to_string(),
                platform: platform.to_string(),
                got: config.platform().to_string(),
            });
        }
        if let Some(name) = &known_ref {
            self.config.store.set_ref(name, &image.manifest)?;
        }
        let ManifestDocument::Image(doc) = self.config.store.read_document(&image.manifest)? else {
            return Err(Error::Docker {
                command: format!("docker save {tag}"),
                status: "exit status: 0".into(),
                detail: format!("`{}` is not an image manifest", image.manifest.digest),
            });
        };
        Ok((image.manifest, doc, image.config, config))
    }

    fn push_cache(&self, builder: &DockerHost, tag: &str, target: &str) -> Result<()> {
        let mut tag_cmd = self.docker.command(builder);
        tag_cmd.args(["tag", tag, target]);
        run_docker(&mut tag_cmd, INFO_TIMEOUT)?;
        let mut push = self.docker.command(builder);
        push.args(["push", target]);
        let pushed = run_docker(&mut push, TRANSFER_TIMEOUT);
        let mut untag = self.docker.command(builder);
        untag.args(["rmi", "--no-prune", target]);
        let _ = run_docker(&mut untag, INFO_TIMEOUT);
        pushed.map(|_| ())
    }
}
