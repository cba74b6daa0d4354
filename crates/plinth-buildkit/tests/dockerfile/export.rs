//! The corpus `bench/dockerfile/run` times: every case docker's BuildKit builds (`Same`, no file
//! server needed), written out as a context with its Dockerfile and the docker flags it takes,
//! and the busybox root as an OCI layout (the test registry ends with the test), which the bench
//! pushes to a registry of its own and writes into the Dockerfiles for `{root}`.

use std::path::{Path, PathBuf};

use crate::cases::{self, Case, Expect};
use crate::common::{busybox_root, require_all};
use crate::run_cases::{self, Extra, NO_EXTRA};
use crate::{input_cases, write_context};

/// Writes each benchable case under `dir/<name>/`: `context/` (the Dockerfile inside, `{root}`
/// left for the bench to fill in) and `flags` (one docker argument a line: `--build-arg K=V`,
/// `--secret id=…,src=…`, `--target`). Returns the names written.
fn export(dir: &Path) -> Vec<&'static str> {
    let all = cases::CASES
        .iter()
        .map(|c| (c, &NO_EXTRA))
        .chain(input_cases::INPUT_CASES.iter().map(|c| (c, &NO_EXTRA)))
        .chain(
            crate::platform_cases::PLATFORM_CASES
                .iter()
                .map(|c| (c, &NO_EXTRA)),
        )
        .chain(crate::history::HISTORY_CASES.iter().map(|c| (c, &NO_EXTRA)))
        .chain(run_cases::RUN_CASES.iter().map(|(c, e)| (c, e)))
        .chain(input_cases::INPUT_MOUNT_CASES.iter().map(|(c, e)| (c, e)));
    let mut written = Vec::new();
    for (case, extra) in all {
        if !benchable(case, extra) {
            continue;
        }
        let base = dir.join(case.name);
        let context = base.join("context");
        std::fs::create_dir_all(&context).unwrap();
        write_context(&context, case.context);
        std::fs::write(context.join("Dockerfile"), case.dockerfile).unwrap();
        let mut flags = Vec::new();
        for (k, v) in case.build_args {
            flags.push("--build-arg".to_owned());
            flags.push(format!("{k}={v}"));
        }
        for (id, value) in extra.secrets {
            let file = base.join(format!("secret-{id}"));
            std::fs::write(&file, value).unwrap();
            flags.push("--secret".to_owned());
            flags.push(format!("id={id},src={}", file.display()));
        }
        if let Some(target) = extra.target {
            flags.push("--target".to_owned());
            flags.push(target.to_owned());
        }
        let mut text = flags.join("\n");
        text.push('\n');
        std::fs::write(base.join("flags"), text.trim_start()).unwrap();
        written.push(case.name);
    }
    written
}

/// The suite's placeholders besides `{root}`: the bench has no file server and only one root.
const NOT_EXPORTED: &[&str] = &["{url}", "{bare_root}"];

/// What both tools build from the exported files alone: docker's BuildKit builds it the same,
/// it names no placeholder but `{root}`, and the BuildKit backend is not expected to refuse it.
fn benchable(case: &Case, extra: &Extra) -> bool {
    matches!(case.expect, Expect::Same)
        && !NOT_EXPORTED.iter().any(|p| case.dockerfile.contains(p))
        && extra.backend_refuses.is_none()
        && extra.ssh == run_cases::SshGiven::None
}

/// The root image `root` as the OCI layout `dir/root` (tag `latest`), both platforms.
fn export_root(dir: &Path, root: &str) {
    plinth_test::skopeo([
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--quiet",
        &format!("docker://{root}"),
        &format!("oci:{}:latest", dir.join("root").display()),
    ]);
}

#[test]
fn the_bench_corpus_is_every_case_docker_builds() {
    if !require_all() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PLINTH_DOCKERFILE_EXPORT")
        .map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let written = export(&dir);
    export_root(&dir, &busybox_root());
    assert!(written.len() >= 60, "only {} cases exported", written.len());
    for name in &written {
        let text = std::fs::read_to_string(dir.join(name).join("context/Dockerfile")).unwrap();
        assert!(text.to_ascii_uppercase().contains("FROM"), "{name}: {text}");
        assert!(
            !NOT_EXPORTED.iter().any(|p| text.contains(p)),
            "{name} names a placeholder the bench cannot fill: {text}"
        );
        assert!(dir.join(name).join("flags").is_file(), "{name}");
    }
    let copy = std::fs::read_to_string(dir.join("copy_from_stage/context/Dockerfile")).unwrap();
    assert!(copy.starts_with("FROM {root} AS build\n"), "{copy}");
    let index = std::fs::read_to_string(dir.join("root/index.json")).unwrap();
    assert!(index.contains("application/vnd.oci.image"), "{index}");
    assert!(written.contains(&"mount_secret_options"));
    let flags = std::fs::read_to_string(dir.join("mount_secret_options/flags")).unwrap();
    assert!(flags.starts_with("--secret\nid=tok,src="), "{flags}");
    assert!(!written.contains(&"add_url") && !written.contains(&"heredoc_run"));
}
