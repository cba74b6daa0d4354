//! What a build step and the store give away: a step's own network, `--network host` as the
//! opt-in, a private store, and no run directories left after a killed process.

use std::os::unix::fs::PermissionsExt;

use plinth_test::{External, TestContext, require_external};

use super::{
    build_amd64, busybox_dockerfile, busybox_layout, output, run_amd64_args, stdout_ok,
    write_dockerfile,
};

/// A local user for the test, removed on drop.
struct LocalUser(String);

impl LocalUser {
    fn create() -> Self {
        let name = format!("plinth-t{}", std::process::id());
        let status = std::process::Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", &name])
            .status()
            .expect("useradd");
        assert!(status.success(), "useradd {name}");
        LocalUser(name)
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel").arg(&self.0).status();
    }
}

#[test]
fn steps_get_their_own_network_and_the_store_keeps_setuid_binaries_private() {
    let Some((ctx, dockerfile)) = busybox_dockerfile(
        "RUN ls /sys/class/net | tr '\\n' ' ' > /nets && cp /bin/busybox /suid && chmod 4755 /suid\n",
    ) else {
        return;
    };
    stdout_ok(
        &ctx,
        build_amd64(&ctx, &dockerfile).args(["--tag", "test/sec"]),
    );
    let run = |network: &str, args: &[&str]| {
        stdout_ok(
            &ctx,
            ctx.plinth()
                .args(["--network", network])
                .args(run_amd64_args("test/sec", args)),
        )
    };
    assert_eq!(
        run("default", &["cat", "/nets"]),
        "lo tap0 ",
        "the step's own namespace"
    );
    assert_eq!(run("default", &["ls", "/sys/class/net"]), "lo\ntap0\n");
    // The host's own namespace (its interface list is no proof: other tests' containers add
    // and remove veth interfaces on it while this one runs).
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(
        run("host", &["busybox", "readlink", "/proc/self/ns/net"]),
        format!("{}\n", host.display())
    );
    assert_eq!(run("none", &["ls", "/sys/class/net"]), "lo\n");

    // Another local user, with every directory above the store open to it, cannot run the
    // layer's setuid-root binary: the store root is 0700.
    let home = ctx.plinth_home();
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    std::fs::set_permissions(ctx.temp_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let suid = walkdir_find(&home.join("snapshots"), "suid").expect("the layer's /suid unpacked");
    let user = LocalUser::create();
    let out = output(
        &ctx,
        ctx.command("runuser")
            .args(["-u", &user.0, "--"])
            .arg(&suid)
            .args(["id", "-u"]),
    );
    assert!(!out.status.success(), "another user ran the setuid binary");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first file named `name` below `dir`.
fn walkdir_find(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let file_type = entry.file_type().ok()?;
        if file_type.is_file() && entry.file_name() == name {
            return Some(path);
        }
        if file_type.is_dir()
            && let Some(found) = walkdir_find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn gc_removes_run_directories_of_killed_processes() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale = ctx
        .plinth_home()
        .join(format!("sandbox/run-{gone_pid}-x1y2z3"));
    std::fs::create_dir_all(stale.join("root")).unwrap();
    std::fs::create_dir_all(stale.join("scaffold/etc")).unwrap();
    std::fs::write(stale.join("hosts"), "127.0.0.1\tlocalhost\n").unwrap();
    stdout_ok(&ctx, ctx.plinth().args(["gc", "--now"]));
    assert!(!stale.exists(), "the killed run's directory is gone");
    assert!(ctx.plinth_home().join("sandbox").is_dir());
}

/// A step that prints its secret shows `****` in the relayed progress, on the embedded engine
/// and through BuildKit (which relays a step's output as written): nowhere in plinth's output
/// is the value.
#[test]
fn a_secret_a_step_prints_is_redacted_on_both_engines() {
    require_external!(External::Root, External::Docker);
    let ctx = TestContext::new();
    let registry = plinth_test::LocalRegistry::shared();
    let root = registry.image(&format!("cli/secret-busybox:{}", std::process::id()));
    stdout_ok(
        &ctx,
        ctx.plinth()
            .args(["copy", &busybox_layout(ctx.temp_dir())])
            .arg(&root),
    );
    let secret = format!("s3cret-{}-value", std::process::id());
    let secret_file = ctx.temp_dir().join("token");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM {root}\n\
             RUN --mount=type=secret,id=tok cat /run/secrets/tok; echo \"to stderr: $(cat /run/secrets/tok).\" >&2\n"
        ),
    );
    for engine in ["embedded", "buildkit"] {
        let out = output(
            &ctx,
            build_amd64(&ctx, &dockerfile)
                .args(["--engine", engine, "--progress", "plain", "--no-cache"])
                .arg("--secret")
                .arg(format!("id=tok,src={}", secret_file.display())),
        );
        assert!(out.status.success(), "{engine}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(&secret),
            "{engine}: the secret is in the output"
        );
        let step_lines: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with("#2 ") && !l.starts_with("#2 ["))
            .collect();
        assert!(
            step_lines.iter().any(|l| l.ends_with(" ****")),
            "{engine}: the step's stdout line is relayed redacted: {step_lines:?}"
        );
        assert!(
            step_lines.iter().any(|l| l.ends_with(" to stderr: ****.")),
            "{engine}: the step's stderr line is relayed redacted: {step_lines:?}"
        );
    }
}
