//! The Dockerfile equivalence suite: every case is built by docker's BuildKit on this machine
//! (from the raw Dockerfile), by plinth's embedded engine and by plinth's BuildKit backend (both
//! from plinth's reading of it); the file trees, image configs and histories must be the same. Cases
//! plinth refuses must be refused with the line and the way out.

#[path = "../buildkit/common.rs"]
#[allow(
    dead_code,
    reason = "shared with the buildkit suite; this one uses a few fixtures"
)]
mod common;

mod cases;
mod context;
mod export;
mod history;
mod input_cases;
mod platform_cases;
mod run_cases;
mod ssh_agent;
mod tree;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_buildkit::{BuildMode, BuildkitBackend, BuildkitConfig, DockerCli};
use plinth_engine::{BuildOptions, Engine, EngineConfig};
use plinth_executor::{BuildSecrets, BuildSsh, SecretValue};
use plinth_oci::{Digest, Platform, Store};
use plinth_recipe::{
    BaseConfig, ImageSource, ReaderOptions, base_images_by_platform, parse_dockerfile_with,
};
use serde_json::Value;

use crate::cases::{Case, ContextEntry, Expect};
use crate::common::{FileServer, busybox_root, error_chain, push_busybox_root, require_all};
use crate::run_cases::{Extra, SshGiven};
use crate::tree::{Tree, apply_tar, image_of, runtime_config, tree_differences};

/// A built image's file tree, runtime config and history entries (`history.rs`).
type Image = (Tree, Value, Vec<String>);

/// What every case may use: the root image, a file server, the docker client.
struct Fixture {
    root: String,
    /// The same root without history in its config.
    bare_root: String,
    url: String,
    docker: DockerCli,
    work: PathBuf,
    /// Whether the daemon's BuildKit removes the mount points it made (Docker 23+); older
    /// ones leave them as empty directories, which current BuildKit and plinth do not.
    removes_mount_stubs: bool,
    /// The agent `--ssh` cases forward.
    agent: ssh_agent::SshAgent,
}

impl Fixture {
    /// The `--ssh default=…` value a case gives both tools, if any.
    fn ssh_flag(&self, given: SshGiven) -> Option<String> {
        match given {
            SshGiven::None => None,
            SshGiven::Socket => Some(format!("default={}", self.agent.socket.display())),
            SshGiven::Key => Some(format!("default={}", self.agent.key.display())),
        }
    }
}

impl Fixture {
    fn substitute(&self, text: &str) -> String {
        text.replace("{root}", &self.root)
            .replace("{bare_root}", &self.bare_root)
            .replace("{url}", &self.url)
    }
}

fn write_context(dir: &Path, entries: &[(&str, ContextEntry)]) {
    for (path, entry) in entries {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match entry {
            ContextEntry::File(contents, mode) => {
                std::fs::write(&path, contents).unwrap();
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(*mode),
                )
                .unwrap();
            }
            ContextEntry::Bytes(bytes) => std::fs::write(&path, bytes).unwrap(),
            ContextEntry::Dir(mode) => {
                std::fs::create_dir_all(&path).unwrap();
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(*mode),
                )
                .unwrap();
            }
            ContextEntry::Link(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
            ContextEntry::HardLink(target) => std::fs::hard_link(dir.join(target), &path).unwrap(),
            ContextEntry::HostProgram(program) => copy_program(program, &path),
            ContextEntry::Fifo => {
                let made = std::process::Command::new("mkfifo").arg(&path).status();
                assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
            }
            ContextEntry::Tar(compression, members) => {
                std::fs::write(&path, tar_bytes(*compression, members)).unwrap()
            }
        }
    }
}

/// Copies `program`, the libraries `ldd` lists for it and their loader into the new directory
/// `dir`, side by side.
fn copy_program(program: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("ldd").arg(program).output().unwrap();
    assert!(out.status.success(), "ldd {program} failed");
    let mut files = vec![PathBuf::from(program)];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `libc.so.6 => /lib/…/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`.
        let path = match line.split_once("=>") {
            Some((_, after)) => after.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            files.push(PathBuf::from(path));
        }
    }
    for file in files {
        let name = file.file_name().unwrap();
        std::fs::copy(&file, dir.join(name)).unwrap();
        std::fs::set_permissions(
            dir.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
}

/// A tar archive of `members`, compressed as asked.
fn tar_bytes(compression: cases::Packing, members: &[cases::Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_ustar();
        header.set_uid(member.owner.0);
        header.set_gid(member.owner.1);
        header.set_mode(member.mode);
        header.set_mtime(1_700_000_000);
        match member.kind {
            cases::MemberKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, member.path, &[][..])
                    .unwrap();
            }
            cases::MemberKind::File(text) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(text.len() as u64);
                builder
                    .append_data(&mut header, member.path, text.as_bytes())
                    .unwrap();
            }
            cases::MemberKind::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder
                    .append_link(&mut header, member.path, target)
                    .unwrap();
            }
            cases::MemberKind::Fifo => {
                header.set_entry_type(tar::EntryType::Fifo);
                header.set_size(0);
                builder
                    .append_data(&mut header, member.path, &[][..])
                    .unwrap();
            }
            cases::MemberKind::HardLink(target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                builder
                    .append_link(&mut header, member.path, target)
                    .unwrap();
            }
        }
    }
    let tar = builder.into_inner().unwrap();
    match compression {
        cases::Packing::Plain => tar,
        cases::Packing::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        }
        cases::Packing::Bzip2 => {
            let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            bz.write_all(&tar).unwrap();
            bz.finish().unwrap()
        }
        cases::Packing::Xz => {
            let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
            xz.write_all(&tar).unwrap();
            xz.finish().unwrap()
        }
        cases::Packing::Zstd => zstd::encode_all(&tar[..], 3).unwrap(),
    }
}

fn docker(fixture: &Fixture, args: &[String]) -> Result<String, String> {
    let mut cmd = Command::new(fixture.docker.program());
    if fixture.docker.mode() == BuildMode::Classic {
        cmd.env("DOCKER_BUILDKIT", "1");
    }
    let out = cmd.args(args).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// docker's BuildKit on the raw Dockerfile: the exported tree and the image config.
fn build_with_docker(
    fixture: &Fixture,
    (case, extra): (&Case, &Extra),
    dir: &Path,
    context: &Path,
) -> Result<Image, String> {
    let tag = format!("plinth-dockerfile-eq/{}:{}", case.name, std::process::id());
    let mut common = vec![
        "-f".to_owned(),
        context.join("Dockerfile").display().to_string(),
        "--platform".to_owned(),
        "linux/amd64".to_owned(),
    ];
    for (k, v) in case.build_args {
        common.push("--build-arg".to_owned());
        common.push(format!("{k}={v}"));
    }
    for (id, value) in extra.secrets {
        let file = dir.join(format!("secret-{id}"));
        std::fs::write(&file, value).unwrap();
        common.push("--secret".to_owned());
        common.push(format!("id={id},src={}", file.display()));
    }
    if let Some(target) = extra.target {
        common.push("--target".to_owned());
        common.push(target.to_owned());
    }
    if let Some(flag) = fixture.ssh_flag(extra.ssh) {
        // The agent's keys are new each run and, as in BuildKit, not part of a step's key.
        common.push("--no-cache".to_owned());
        common.push("--ssh".to_owned());
        common.push(flag);
    }
    let build = |extra: &[&str]| -> Result<String, String> {
        let mut args: Vec<String> = match fixture.docker.mode() {
            BuildMode::Classic => vec!["build".into(), "-q".into()],
            BuildMode::Buildx => vec!["buildx".into(), "build".into(), "-q".into()],
        };
        args.extend(common.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(context.display().to_string());
        docker(fixture, &args)
    };
    let tar = dir.join("docker-fs.tar");
    let tar_output = format!("type=tar,dest={}", tar.display());
    build(&["-o", &tar_output])?;
    let load: &[&str] = match fixture.docker.mode() {
        BuildMode::Classic => &["-t", &tag],
        BuildMode::Buildx => &["--load", "-t", &tag],
    };
    build(load)?;
    let saved =
        history::docker_config(fixture.docker.program(), &tag, &dir.join("docker-save.tar"));
    let _ = docker(fixture, &["rmi".into(), "-f".into(), tag.clone()]);
    let config = saved?;
    let mut tree = Tree::new();
    apply_tar(&mut tree, std::fs::read(&tar).map_err(|e| e.to_string())?);
    Ok((
        tree,
        runtime_config(&config["config"], &config["author"]),
        history::entries(&config),
    ))
}

/// Removes the mount points a BuildKit before Docker 23 leaves (empty root-owned
/// directories), which current BuildKit and the embedded engine do not leave.
fn drop_stubs(fixture: &Fixture, extra: &Extra, tree: &mut Tree) {
    if fixture.removes_mount_stubs {
        return;
    }
    for stub in extra.stubs {
        let is_stub = tree
            .get(*stub)
            .is_some_and(|e| (e.kind, e.mode, e.uid, e.gid) == ('d', 0o755, 0, 0));
        if is_stub {
            tree.remove(*stub);
        }
    }
}

/// Runs one case; returns what went wrong.
fn run_case(fixture: &Fixture, (case, extra): (&Case, &Extra)) -> Vec<String> {
    let dir = fixture.work.join(case.name);
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    write_context(&context, case.context);
    let text = fixture.substitute(case.dockerfile);
    std::fs::write(context.join("Dockerfile"), &text).unwrap();
    let platform = Platform::linux_amd64();
    let mut options = ReaderOptions::new(&context)
        .with_platform(platform.clone())
        .with_dockerfile(context.join("Dockerfile"));
    for (k, v) in case.build_args {
        options = options.with_build_arg(*k, *v);
    }
    if let Some(target) = extra.target {
        options = options.with_target(target);
    }
    // As BuildKit does, the stages are read with their base images' configs.
    let mut secrets = BuildSecrets::new();
    for (id, value) in extra.secrets {
        secrets.insert(*id, SecretValue::new(value.as_bytes()));
    }
    let mut ssh = BuildSsh::new();
    if let Some(flag) = fixture.ssh_flag(extra.ssh) {
        ssh.add_flag(&flag).unwrap();
    }
    let build_options = BuildOptions::new(vec![platform.clone()])
        .with_no_cache(extra.ssh != SshGiven::None)
        .with_secrets(secrets)
        .with_ssh(ssh)
        .with_host_network_allowed(true);
    let engine_store = Store::open(dir.join("engine-store")).unwrap();
    let engine = Engine::new(EngineConfig::new(engine_store.clone())).unwrap();
    for (on, image) in base_images_by_platform(&text, &options) {
        let source: ImageSource = image.parse().unwrap();
        let config = match engine.resolve_config(&source, on.as_ref().unwrap_or(&platform)) {
            Ok(config) => BaseConfig::of_image(&config),
            Err(e) => return vec![format!("cannot resolve `{image}`: {}", error_chain(&e))],
        };
        options = match on {
            None => options.with_base_config(image, config),
            Some(on) => options.with_platform_base_config(on, image, config),
        };
    }
    let read = parse_dockerfile_with(&text, &options);
    let container = match (&case.expect, read) {
        (Expect::Refused { line, needle }, Err(e)) => {
            let message = e.to_string();
            let wanted = format!("line {line}: ");
            return if message.contains(&wanted) && message.contains(needle) {
                Vec::new()
            } else {
                vec![format!(
                    "refused, but not at line {line} with {needle:?}: {message}"
                )]
            };
        }
        (Expect::Refused { line, .. }, Ok(_)) => {
            return vec![format!("plinth read it; it should refuse line {line}")];
        }
        (_, Err(e)) => return vec![format!("plinth refused it: {}", error_chain(&e))],
        (_, Ok(c)) => c,
    };
    let mut problems = Vec::new();
    let reference = match &case.expect {
        Expect::Same => match build_with_docker(fixture, (case, extra), &dir, &context) {
            Ok((mut tree, config, entries)) => {
                drop_stubs(fixture, extra, &mut tree);
                problems.extend(fixture.agent.listing_problems(extra.ssh, &tree));
                Some((tree, config, entries))
            }
            Err(e) => return vec![format!("docker's BuildKit failed: {e}")],
        },
        Expect::Files(_) => None,
        Expect::Refused { .. } => unreachable!("handled above"),
    };
    let engines: Vec<(&str, Result<Image, String>)> = vec![
        (
            "embedded engine",
            engine
                .build(&container, &build_options)
                .map(|built| image_of(&engine_store, &built.root, &platform))
                .map_err(|e| error_chain(&e)),
        ),
        ("BuildKit backend", {
            let store = Store::open(dir.join("bk-store")).unwrap();
            BuildkitBackend::new(BuildkitConfig::new(store.clone()))
                .and_then(|b| b.build(&container, &build_options))
                .map(|built| {
                    let (mut tree, config, entries) = image_of(&store, &built.root, &platform);
                    drop_stubs(fixture, extra, &mut tree);
                    (tree, config, entries)
                })
                .map_err(|e| error_chain(&e))
        }),
    ];
    let Some((want_tree, want_config, want_history)) = reference else {
        let Expect::Files(files) = &case.expect else {
            unreachable!("only file cases have no reference build")
        };
        for (name, result) in engines {
            match result {
                Err(e)
                    if name == "BuildKit backend"
                        && extra.backend_refuses.is_some_and(|n| e.contains(n)) => {}
                Err(e) => problems.push(format!("{name} failed: {e}")),
                Ok(_) if name == "BuildKit backend" && extra.backend_refuses.is_some() => {
                    problems.push("the BuildKit backend should refuse it".to_owned());
                }
                Ok((tree, _, entries)) => {
                    // The root's own entries come first, whatever they are.
                    let root_entries = entries
                        .iter()
                        .take_while(|e| !e.ends_with("#buildkit.dockerfile.v0"))
                        .count();
                    match history::expected_differences(case.name, root_entries, &entries) {
                        None if !history::EXPECTED.iter().any(|(n, _)| *n == case.name) => {
                            problems.push(format!(
                                "{name}: no expected history for `{}` in history.rs",
                                case.name
                            ));
                        }
                        None => {}
                        Some(diff) => problems.push(format!("{name}:\n{diff}")),
                    }
                    for (path, contents) in *files {
                        let want = Digest::of(contents.as_bytes()).to_string();
                        match tree.get(*path) {
                            Some(e) if e.content == want => {}
                            other => problems.push(format!(
                                "{name}: /{path} should hold {contents:?}, found {other:?}"
                            )),
                        }
                    }
                }
            }
        }
        return problems;
    };
    for (name, result) in engines {
        if name == "BuildKit backend"
            && let Some(needle) = extra.backend_refuses
        {
            match result {
                Err(e) if e.contains(needle) => {}
                other => problems.push(format!(
                    "the BuildKit backend should refuse with {needle:?}: {:?}",
                    other.map(|_| "it built")
                )),
            }
            continue;
        }
        match result {
            Err(e) => problems.push(format!("{name} failed: {e}")),
            Ok((tree, config, entries)) => {
                if let Some(diff) = history::differences(&want_history, &entries) {
                    problems.push(format!("{name}:\n{diff}"));
                }
                let diff = tree_differences(&want_tree, &tree);
                if !diff.is_empty() {
                    problems.push(format!("{name}: file trees differ:\n{}", diff.join("\n")));
                }
                if config != want_config {
                    problems.push(format!(
                        "{name}: configs differ:\n  BuildKit {want_config}\n  plinth   {config}"
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn dockerfiles_build_as_buildkit_builds_them() {
    if !require_all() {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("plinth-dockerfile-eq-")
        .tempdir()
        .unwrap();
    let server = FileServer::start(BTreeMap::from([
        ("/dl/tool.sh".to_owned(), b"#!/bin/sh\necho tool\n".to_vec()),
        ("/dl/a%20b.sh".to_owned(), b"spaced\n".to_vec()),
        ("/".to_owned(), b"index\n".to_vec()),
    ]));
    let docker = DockerCli::detect().unwrap();
    let server_version = Command::new(docker.program())
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap();
    let major: u32 = String::from_utf8_lossy(&server_version.stdout)
        .split('.')
        .next()
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(0);
    let fixture = Fixture {
        root: busybox_root(),
        bare_root: push_busybox_root("buildkit/busybox-bare:1", false),
        url: server.url(""),
        docker,
        work: work.path().to_path_buf(),
        removes_mount_stubs: major >= 23,
        agent: ssh_agent::SshAgent::start(&work.path().join("ssh-agent")),
    };
    let only = std::env::var("PLINTH_DOCKERFILE_CASE").ok();
    let cases: Vec<(&Case, &Extra)> = cases::CASES
        .iter()
        .map(|c| (c, &run_cases::NO_EXTRA))
        .chain(
            input_cases::INPUT_CASES
                .iter()
                .map(|c| (c, &run_cases::NO_EXTRA)),
        )
        .chain(
            platform_cases::PLATFORM_CASES
                .iter()
                .map(|c| (c, &run_cases::NO_EXTRA)),
        )
        .chain(
            history::HISTORY_CASES
                .iter()
                .map(|c| (c, &run_cases::NO_EXTRA)),
        )
        .chain(run_cases::RUN_CASES.iter().map(|(c, e)| (c, e)))
        .chain(input_cases::INPUT_MOUNT_CASES.iter().map(|(c, e)| (c, e)))
        .filter(|(c, _)| only.as_deref().is_none_or(|o| c.name.contains(o)))
        .collect();
    // Builds are mostly waiting on docker and the sandbox: a few at a time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(case, extra)) = cases.get(i) else {
                        break;
                    };
                    let problems = run_case(&fixture, (case, extra));
                    if !problems.is_empty() {
                        failures.lock().unwrap().push(format!(
                            "case `{}`:\n{}",
                            case.name,
                            problems.join("\n")
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
