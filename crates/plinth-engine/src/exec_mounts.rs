//! Making an exec's own mounts real for one run: bind sources written to a scratch directory
//! outside the image (read-only, or writable with the changes thrown away), tmpfs, secret files
//! and env vars, SSH agent sockets (`ssh_proxy.rs`). Mount points the image lacks, and the parents made for them, are removed from
//! the step's changes afterwards, as current BuildKit removes its mount stubs.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use plinth_executor::{BuildSecrets, BuildSsh};
use plinth_sandbox::MountSpec;

use crate::error::{Error, Result};
use crate::files::{CopyItem, ItemKind};
use crate::merged::{self, Lookup};
use crate::ssh_proxy::AgentProxy;
use crate::steps::PreparedMount;

/// The mounts of one run, ready for the sandbox.
#[derive(Default)]
pub(crate) struct Materialized {
    pub(crate) mounts: Vec<MountSpec>,
    /// Env vars from `env=` secrets (over the image env and the build args).
    pub(crate) env: Vec<(String, String)>,
    /// Secret values in text form, kept out of the step's output.
    pub(crate) redact: Vec<String>,
    /// The SSH agent relays, running until dropped after the run.
    pub(crate) agents: Vec<AgentProxy>,
}

/// Writes what `mounts` show under `scratch` (a directory that is removed after the run).
pub(crate) fn materialize(
    mounts: &[PreparedMount],
    (secrets, ssh): (&BuildSecrets, &BuildSsh),
    scratch: &Path,
    index: usize,
) -> Result<Materialized> {
    let mut out = Materialized {
        mounts: Vec::new(),
        env: Vec::new(),
        redact: Vec::new(),
        agents: Vec::new(),
    };
    let mut ssh_mounts = 0;
    for (n, mount) in mounts.iter().enumerate() {
        match mount {
            PreparedMount::Bind { target, items, rw } => {
                let dir = scratch.join(format!("bind-{n}"));
                write_tree(&dir, items)?;
                out.mounts
                    .push(MountSpec::bind(&dir, target).with_readonly(!*rw));
            }
            PreparedMount::Tmpfs { target, size } => {
                out.mounts.push(MountSpec::tmpfs(target, *size));
            }
            PreparedMount::Secret(secret) => {
                // An optional secret the build was not given is skipped, as in BuildKit.
                let Some(value) = secrets.get(&secret.id) else {
                    continue;
                };
                if let Some(text) = value.redaction() {
                    out.redact.push(text);
                }
                if let Some(target) = secret.file_target() {
                    let file = scratch.join(format!("secret-{n}"));
                    write_private(&file, value.expose(), secret.mode, secret.uid, secret.gid)?;
                    out.mounts
                        .push(MountSpec::bind(&file, target).with_readonly(true));
                }
                if let Some(name) = &secret.env {
                    let value = String::from_utf8(value.expose().to_vec()).map_err(|_| Error::Step {
                        index,
                        reason: format!(
                            "the secret `{}` is not UTF-8 text, so it cannot be the env var `{name}`: mount it as a file",
                            secret.id
                        ),
                    })?;
                    out.env.push((name.clone(), value));
                }
            }
            PreparedMount::Ssh(mount) => {
                // As BuildKit: `SSH_AUTH_SOCK` names the first ssh mount's socket.
                if ssh_mounts == 0 {
                    out.env
                        .push(("SSH_AUTH_SOCK".to_owned(), mount.target.clone()));
                }
                ssh_mounts += 1;
                // An optional agent the build was not given is skipped, as in BuildKit.
                let Some(agent) = ssh.socket(&mount.id) else {
                    continue;
                };
                let agent = agent.map_err(|reason| Error::Step { index, reason })?;
                let socket = scratch.join(format!("ssh-{n}"));
                out.agents.push(AgentProxy::start(
                    &socket, &agent, mount.uid, mount.gid, mount.mode,
                )?);
                out.mounts.push(MountSpec::bind(&socket, &mount.target));
            }
        }
    }
    Ok(out)
}

/// A secret file: created with no access, then given its mode and owner, so the value is
/// never readable by anyone else on the way.
fn write_private(path: &Path, bytes: &[u8], mode: u32, uid: u32, gid: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create the secret file", path, e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io("write the secret file", path, e))?;
    std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
        .map_err(|e| Error::io("set the owner of", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set the mode of", path, e))
}

/// Writes `items` (a tree whose root has `rel == ""`) at `root`, with owners and modes.
pub(crate) fn write_tree(root: &Path, items: &[CopyItem]) -> Result<()> {
    let mut dirs: Vec<(PathBuf, &CopyItem)> = Vec::new();
    // Links once every file is there: a link's target may come later in walk order.
    let (links, items): (Vec<&CopyItem>, Vec<&CopyItem>) = items
        .iter()
        .partition(|i| matches!(i.kind, ItemKind::Hardlink(_)));
    for item in items {
        let path = if item.rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&item.rel)
        };
        match &item.kind {
            ItemKind::Dir => {
                fs::create_dir(&path).map_err(|e| Error::io("create", &path, e))?;
                dirs.push((path.clone(), item));
                continue;
            }
            ItemKind::File(source) => {
                fs::copy(source, &path).map_err(|e| Error::io("copy to", &path, e))?;
            }
            ItemKind::ArchiveMember {
                archive,
                offset,
                len,
            } => {
                let mut member = crate::files::open_member(archive, *offset, *len)?;
                let mut out = fs::File::create(&path).map_err(|e| Error::io("create", &path, e))?;
                std::io::copy(&mut member, &mut out).map_err(|e| Error::io("copy to", &path, e))?;
            }
            ItemKind::Bytes(bytes) => {
                fs::write(&path, bytes).map_err(|e| Error::io("write", &path, e))?;
            }
            ItemKind::Symlink(target) => {
                std::os::unix::fs::symlink(target, &path)
                    .map_err(|e| Error::io("create the link", &path, e))?;
            }
            ItemKind::Fifo => {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| Error::io("create the FIFO", &path, e.into()))?;
            }
            ItemKind::Hardlink(_) => unreachable!("hard links are made after the files"),
        }
        set_meta(&path, item)?;
    }
    for item in links {
        if let ItemKind::Hardlink(target) = &item.kind {
            let path = root.join(&item.rel);
            fs::hard_link(root.join(target), &path)
                .map_err(|e| Error::io("create the hard link", &path, e))?;
        }
    }
    // Directories last, deepest first, so a read-only one does not stop its children.
    for (path, item) in dirs.iter().rev() {
        set_meta(path, item)?;
    }
    Ok(())
}

fn set_meta(path: &Path, item: &CopyItem) -> Result<()> {
    let id = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    std::os::unix::fs::lchown(path, Some(id(item.uid)), Some(id(item.gid)))
        .map_err(|e| Error::io("set the owner of", path, e))?;
    if !matches!(item.kind, ItemKind::Symlink(_)) {
        fs::set_permissions(path, fs::Permissions::from_mode(item.mode))
            .map_err(|e| Error::io("set the mode of", path, e))?;
    }
    Ok(())
}

/// Makes in `upper` the missing parent directories of each mount target (the sandbox makes
/// only the last component); returns what was made, parents first, for [`remove_stubs`].
pub(crate) fn make_parents(
    lower: &[PathBuf],
    upper: &Path,
    targets: &[&Path],
) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for target in targets {
        let rel = target.strip_prefix("/").unwrap_or(target);
        let Some(parent) = rel.parent() else { continue };
        let mut so_far = PathBuf::new();
        for component in parent.components() {
            so_far.push(component);
            let in_upper = upper.join(&so_far);
            if fs::symlink_metadata(&in_upper).is_ok() {
                continue;
            }
            match merged::lookup(lower, &format!("/{}", so_far.display()))? {
                // An existing directory is merged by overlayfs; only a missing one is made.
                Lookup::Found(entry) if entry.is_dir() => {
                    if fs::symlink_metadata(&in_upper).is_err() {
                        fs::create_dir(&in_upper)
                            .map_err(|e| Error::io("create the mount point", &in_upper, e))?;
                        let mode = entry.meta.mode() & 0o7777;
                        fs::set_permissions(&in_upper, fs::Permissions::from_mode(mode))
                            .map_err(|e| Error::io("set the mode of", &in_upper, e))?;
                        std::os::unix::fs::lchown(
                            &in_upper,
                            Some(entry.meta.uid()),
                            Some(entry.meta.gid()),
                        )
                        .map_err(|e| Error::io("set the owner of", &in_upper, e))?;
                        made.push(so_far.clone());
                    }
                }
                Lookup::Found(_) => break,
                Lookup::Missing | Lookup::Blocked(_) => {
                    fs::create_dir(&in_upper)
                        .map_err(|e| Error::io("create the mount point", &in_upper, e))?;
                    fs::set_permissions(&in_upper, fs::Permissions::from_mode(0o755))
                        .map_err(|e| Error::io("set the mode of", &in_upper, e))?;
                    made.push(so_far.clone());
                }
            }
        }
    }
    Ok(made)
}

/// Removes the directories [`make_parents`] made that the run left empty, deepest first.
pub(crate) fn remove_stubs(upper: &Path, made: &[PathBuf]) {
    for rel in made.iter().rev() {
        let path = upper.join(rel);
        if let Err(e) = fs::remove_dir(&path) {
            tracing::debug!(path = %path.display(), error = %e, "mount stub kept in the layer");
        }
    }
}
