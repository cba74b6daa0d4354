//! `plinth check --image REF --cst FILE`: container-structure-test files against an existing
//! image, with no recipe, from the store, a registry, `oci:` and `docker-archive:`; file checks
//! that read the image's filesystem (a scratch image without a shell); `$VAR` expansion; `-q`
//! still says what failed.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Output;

use plinth_oci::layer::{WriteOptions, store_dir_layer};
use plinth_oci::layout::OciLayout;
use plinth_oci::{Descriptor, ImageConfig, ImageManifest, MediaType, Platform, Store};
use plinth_test::{External, LocalRegistry, TestContext, output, require_external, stderr_of};

/// A scratch image (no shell, no coreutils): `/app/hello` (0755, 1000:1000), `/app/config`, an
/// absolute symlink `/etc/hello.conf` → `/app/config`, a dangling link, and `APP_HOME=/app`.
/// Written as an OCI layout with tag `v1`; returns `oci:DIR:v1`.
fn scratch_layout(dir: &Path) -> String {
    let root = dir.join("scratch-root");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("app/hello"), "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(root.join("app/hello"), PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(root.join("app/hello"), Some(1000), Some(1000)).unwrap();
    std::fs::write(
        root.join("app/config"),
        "greeting = hello\nmode = scratch\n",
    )
    .unwrap();
    std::fs::set_permissions(root.join("app/config"), PermissionsExt::from_mode(0o640)).unwrap();
    symlink("/app/config", root.join("etc/hello.conf")).unwrap();
    symlink("/nowhere", root.join("etc/dangling")).unwrap();
    let store = Store::open(dir.join("scratch-store")).unwrap();
    let layer = store_dir_layer(
        &store,
        &root,
        &WriteOptions::new().with_source_date_epoch(Some(0)),
    )
    .unwrap();
    let platform = Platform::host();
    let mut config = ImageConfig::for_platform(&platform);
    config.rootfs.diff_ids.push(layer.diff_id);
    config.set_env("APP_HOME", "/app");
    config.set_env("PATH", "/app");
    let config = store.write_config(MediaType::OciConfig, &config).unwrap();
    let manifest = store
        .write_manifest(&ImageManifest::new(
            MediaType::OciManifest,
            config,
            vec![Descriptor::new(
                MediaType::OciLayerGzip,
                layer.digest,
                layer.size,
            )],
        ))
        .unwrap()
        .with_platform(platform);
    let layout = dir.join("scratch-layout");
    OciLayout::create(&layout)
        .unwrap()
        .export_from_store(&store, &manifest, Some("v1"))
        .unwrap();
    format!("oci:{}:v1", layout.display())
}

const PASSING: &str = r#"
schemaVersion: 2.0.0
fileExistenceTests:
  - name: hello through the image env
    path: $APP_HOME/hello
    permissions: -rwxr-xr-x
    uid: 1000
    gid: 1000
    isExecutableBy: any
  - name: the link itself
    path: /etc/hello.conf
    permissions: Lrwxrwxrwx
  - name: a dangling link exists
    path: /etc/dangling
  - name: no shell
    path: /bin/sh
    shouldExist: false
fileContentTests:
  - name: config through the link
    path: /etc/hello.conf
    expectedContents: ['greeting = hello', '(?m)^mode = scratch$']
    excludedContents: ['debug']
metadataTest:
  envVars:
    - key: APP_HOME
      value: /app
"#;

const FAILING: &str = r#"
schemaVersion: 2.0.0
fileExistenceTests:
  - name: shouldExist is true by default
    path: /app/missing
  - name: permissions
    path: /app/config
    permissions: -rw-r--r--
  - name: owner
    path: /app/config
    uid: 1000
fileContentTests:
  - name: a directory has no contents
    path: /app
"#;

fn check(ctx: &TestContext, image: &str, cst: &Path, quiet: bool) -> Output {
    let mut cmd = ctx.plinth();
    if quiet {
        cmd.arg("-q");
    }
    cmd.args(["check", "--image", image, "--cst"]).arg(cst);
    output(ctx, &mut cmd)
}

#[test]
fn check_an_existing_image_without_a_shell_from_every_source() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let image = scratch_layout(ctx.temp_dir());
    let passing = ctx.temp_dir().join("passing.yaml");
    std::fs::write(&passing, PASSING).unwrap();
    let failing = ctx.temp_dir().join("failing.yaml");
    std::fs::write(&failing, FAILING).unwrap();

    let out = check(&ctx, &image, &passing, false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("cst:file_content:config through the link"));
    // Quiet and passing: nothing to say.
    let out = check(&ctx, &image, &passing, true);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr_of(&out), "");

    // Quiet and failing: exit 1 and every failure with container-structure-test's wording.
    let out = check(&ctx, &image, &failing, true);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr_of(&out);
    for message in [
        "File /app/missing should exist but does not",
        "/app/config has incorrect permissions. Expected: -rw-r--r--, Actual: -rw-r-----",
        "/app/config has incorrect user ownership. Expected: 1000, Actual: 0",
        "Failed to open /app. Error: Cannot read specified path: /app is a directory, not a file",
    ] {
        assert!(text.contains(message), "`{message}` in:\n{text}");
    }

    // The same image from a docker-archive and from a registry.
    let archive = ctx.temp_dir().join("scratch.tar");
    let copied = output(
        &ctx,
        ctx.plinth()
            .args(["copy", &image])
            .arg(format!("docker-archive:{}", archive.display())),
    );
    assert!(copied.status.success());
    let out = check(
        &ctx,
        &format!("docker-archive:{}", archive.display()),
        &passing,
        true,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));

    let registry = LocalRegistry::start();
    let pushed = registry.image("scratch/app:1.0.0");
    let copied = output(
        &ctx,
        ctx.plinth()
            .args(["copy", &image, &format!("docker://{pushed}")]),
    );
    assert!(copied.status.success());
    let out = check(&ctx, &pushed, &passing, true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = check(&ctx, &pushed, &failing, true);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cst_env_vars_expand_against_the_image_environment() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let dir = ctx.temp_dir();
    let store = Store::open(dir.join("fixture-store")).unwrap();
    let index = plinth_test::images::busybox_index(&store);
    let layout = dir.join("busybox-layout");
    OciLayout::create(&layout)
        .unwrap()
        .export_from_store(&store, &index, Some("v1"))
        .unwrap();
    let cst = dir.join("env.yaml");
    std::fs::write(
        &cst,
        r#"
schemaVersion: 2.0.0
globalEnvVars:
  - key: VIRTUAL_ENV
    value: /env
  - key: PATH
    value: $VIRTUAL_ENV/bin:$PATH
commandTests:
  - name: PATH is prepended, not replaced
    command: sh
    args: ["-c", "echo $PATH"]
    expectedOutput: ['^/env/bin:/bin']
    excludedOutput: ['\$']
  - name: test variables see the global ones
    command: sh
    args: ["-c", "echo $TOOL_HOME"]
    envVars:
      - key: TOOL_HOME
        value: ${VIRTUAL_ENV}/tool
    expectedOutput: ['(?m)^/env/tool$']
  - name: arguments are expanded too
    command: echo
    args: ["$VIRTUAL_ENV"]
    expectedOutput: ['(?m)^/env$']
"#,
    )
    .unwrap();
    let out = output(
        &ctx,
        ctx.plinth()
            .args(["check", "--platform", "linux/amd64", "--image"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg("--cst")
            .arg(&cst),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn check_without_recipe_or_image_is_a_usage_error() {
    let ctx = TestContext::new();
    let out = output(&ctx, ctx.plinth().arg("check"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("--image REF --cst FILE"),
        "{}",
        stderr_of(&out)
    );
    let out = output(&ctx, ctx.plinth().args(["check", "--image", "oci:x"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("add container-structure-test files with --cst FILE"));
}

/// An image without `Env` (umoci's, like `FROM scratch` ones) still has docker's default `PATH`
/// when `$PATH` is expanded, as its commands see it.
#[test]
fn cst_path_of_an_image_without_env_is_dockers_default() {
    if !require_external(External::Root) || !require_external(External::Tool("umoci")) {
        return;
    }
    let ctx = TestContext::new();
    let dir = ctx.temp_dir();
    let root = dir.join("rootfs");
    plinth_test::busybox_rootfs(&root).unwrap();
    let layout = dir.join("umoci-layout");
    let image = format!("{}:t", layout.display());
    for args in [
        vec!["init", "--layout", layout.to_str().unwrap()],
        vec!["new", "--image", &image],
        vec!["insert", "--image", &image, root.to_str().unwrap(), "/"],
    ] {
        let out = output(&ctx, ctx.command("umoci").args(&args));
        assert!(out.status.success(), "umoci {args:?}: {}", stderr_of(&out));
    }
    let cst = dir.join("path.yaml");
    std::fs::write(
        &cst,
        r#"
schemaVersion: 2.0.0
commandTests:
  - name: the command sees docker's default PATH
    command: /bin/sh
    args: ["-c", "echo $PATH"]
    expectedOutput: ['(?m)^/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$']
  - name: envVars extend it
    command: /bin/sh
    args: ["-c", "echo $MY_PATH"]
    envVars:
      - key: MY_PATH
        value: $PATH:/extra
    expectedOutput: ['(?m)^/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/extra$']
"#,
    )
    .unwrap();
    let out = output(
        &ctx,
        ctx.plinth()
            .args(["check", "--image"])
            .arg(format!("oci:{image}"))
            .arg("--cst")
            .arg(&cst),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}
