//! Process conventions: exit codes, shell completions, the manual page, messages that name no
//! Rust API, and commands that take what users type (a full repository address).

use plinth_oci::Store;
use plinth_oci::layout::OciLayout;
use plinth_test::images::busybox_index;
use plinth_test::{LocalRegistry, TestContext, find_in_path, output, stderr_of, stdout_of};

#[test]
fn usage_errors_exit_2_and_help_documents_the_codes() {
    let ctx = TestContext::new();
    let help = output(&ctx, ctx.plinth().arg("--help"));
    assert_eq!(help.status.code(), Some(0));
    let text = stdout_of(&help);
    assert!(text.contains("Exit status:"), "{text}");
    assert!(text.contains("1  a build, check, publish"), "{text}");
    assert!(text.contains("2  usage error"), "{text}");

    // clap's own usage errors.
    let unknown = output(&ctx, ctx.plinth().arg("no-such-command"));
    assert_eq!(unknown.status.code(), Some(2));
    // Ours: arguments that parse but cannot be done as written.
    let cases: &[(&[&str], &str)] = &[
        (&["build"], "say what to build"),
        (
            &["run", "UPPER/Case", "true"],
            "neither a built image nor an image reference",
        ),
        (&["inspect", "UPPER/Case:x"], "invalid image reference"),
        (
            &["copy", "oci:", "oci:out"],
            "the OCI layout directory is missing",
        ),
        (
            &["dockerfile", "no/such-family:1.0.0"],
            "unknown base image repository",
        ),
        (
            &["dockerfile", "airbyte/python-connector-base:3.0.2"],
            "recipe is not known",
        ),
        (
            &[
                "dockerfile",
                "airbyte/python-connector-base:3.0.0",
                "--format",
                "buildable",
                "--owner-ids",
                "airbyte",
            ],
            "write it as NAME=UID:GID",
        ),
    ];
    for (args, message) in cases {
        let out = output(&ctx, ctx.plinth().args(*args));
        assert_eq!(out.status.code(), Some(2), "plinth {args:?}");
        assert!(
            stderr_of(&out).contains(message),
            "plinth {args:?}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn a_command_that_fails_exits_1() {
    let ctx = TestContext::new();
    // Nothing listens on the port: the command ran and failed.
    let port = plinth_test::free_port().unwrap();
    let out = output(
        &ctx,
        ctx.plinth()
            .args(["inspect", &format!("127.0.0.1:{port}/team/demo:1.0.0")]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).starts_with("error: "),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let ctx = TestContext::new();
    let script = |shell: &str| {
        let out = output(&ctx, ctx.plinth().args(["completions", shell]));
        assert!(out.status.success(), "completions {shell}");
        stdout_of(&out)
    };
    let bash = script("bash");
    // bash loads the script and completes subcommands and flags from it.
    let file = ctx.temp_dir().join("plinth.bash");
    std::fs::write(&file, &bash).unwrap();
    let complete = |words: &str| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _plinth plinth \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = output(&ctx, ctx.command("bash").args(["-c", &probe]));
        assert!(out.status.success());
        stdout_of(&out)
    };
    let commands = complete("plinth co");
    assert!(
        commands.lines().any(|l| l == "copy") && commands.lines().any(|l| l == "completions"),
        "{commands}"
    );
    let flags = complete("plinth run --entry");
    assert_eq!(flags.trim(), "--entrypoint");

    let zsh = script("zsh");
    assert!(zsh.starts_with("#compdef plinth"), "{zsh}");
    assert!(zsh.contains("'--entrypoint=[") && zsh.contains("upgrade-consumers"));
    let fish = script("fish");
    assert!(
        fish.contains("complete -c plinth") && fish.contains("-l entrypoint"),
        "{fish}"
    );
    for (shell, text) in [("zsh", &zsh), ("fish", &fish)] {
        if let Some(program) = find_in_path(shell) {
            let file = ctx.temp_dir().join(format!("plinth.{shell}"));
            std::fs::write(&file, text).unwrap();
            let out = output(&ctx, ctx.command(program).arg("-n").arg(&file));
            assert!(out.status.success(), "{shell} reads the script");
        }
    }
}

#[test]
fn manual_pages_render_with_man() {
    let ctx = TestContext::new();
    let out = output(&ctx, ctx.plinth().arg("man"));
    assert!(out.status.success());
    let page = stdout_of(&out);
    assert!(page.contains(".TH plinth 1"), "{page}");
    let dir = ctx.temp_dir().join("man1");
    let out = output(&ctx, ctx.plinth().arg("man").arg("--dir").arg(&dir));
    assert!(out.status.success());
    for name in [
        "plinth.1",
        "plinth-run.1",
        "plinth-check.1",
        "plinth-completions.1",
    ] {
        assert!(dir.join(name).is_file(), "{name} written");
    }
    assert_eq!(std::fs::read_to_string(dir.join("plinth.1")).unwrap(), page);
    // man (groff) renders the page: the commands and the exit codes are in it.
    let rendered = output(
        &ctx,
        ctx.command("man")
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .arg("-l")
            .arg(dir.join("plinth.1")),
    );
    assert!(rendered.status.success());
    let text = stdout_of(&rendered);
    for needle in [
        "upgrade-consumers",
        "completions",
        "Exit status:",
        "usage error",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

#[test]
fn buildable_dockerfile_knows_the_recipe_user_ids() {
    let ctx = TestContext::new();
    let out = output(
        &ctx,
        ctx.plinth().args([
            "dockerfile",
            "airbyte/python-connector-base:3.0.0",
            "--format",
            "buildable",
        ]),
    );
    assert!(out.status.success());
    let text = stdout_of(&out);
    assert!(
        text.contains(
            "RUN --mount=type=cache,target=/custom_cache/pip,id=pip_cache,uid=1000,gid=1000 "
        ),
        "{text}"
    );
    // The ids given on the command line still win.
    let out = output(
        &ctx,
        ctx.plinth().args([
            "dockerfile",
            "airbyte/python-connector-base:3.0.0",
            "--format",
            "buildable",
            "--owner-ids",
            "airbyte=2000:3000",
        ]),
    );
    assert!(stdout_of(&out).contains(",uid=2000,gid=3000 "));
}

/// Pushes the busybox fixture to `registry` as `team/demo:TAG` for each tag, through `plinth copy`.
fn push_demo(ctx: &TestContext, registry: &LocalRegistry, tags: &[&str]) -> String {
    let dir = ctx.temp_dir();
    let store = Store::open(dir.join("fixture-store")).unwrap();
    let index = busybox_index(&store);
    let layout = dir.join("layout");
    OciLayout::create(&layout)
        .unwrap()
        .export_from_store(&store, &index, Some("v1"))
        .unwrap();
    for tag in tags {
        let out = output(
            ctx,
            ctx.plinth().args([
                "copy",
                &format!("oci:{}:v1", layout.display()),
                &format!("docker://{}", registry.image(&format!("team/demo:{tag}"))),
            ]),
        );
        assert!(out.status.success());
    }
    index.digest.to_string()
}

#[test]
fn latest_takes_a_full_repository_address() {
    let registry = LocalRegistry::start();
    let ctx = TestContext::new().with_registry_filter(&registry);
    let digest = push_demo(&ctx, &registry, &["1.0.0", "1.1.0-rc.1"]);
    let host = registry.host();
    let latest = |repository: &str, stable: bool| {
        let mut cmd = ctx.plinth();
        cmd.args(["--registry", &host, "latest", repository]);
        if stable {
            cmd.arg("--stable");
        }
        output(&ctx, &mut cmd)
    };
    let full = latest(&format!("{host}/team/demo"), false);
    assert!(full.status.success());
    assert_eq!(
        stdout_of(&full).trim(),
        format!("{host}/team/demo:1.1.0-rc.1@{digest}")
    );
    let path = latest("team/demo", true);
    assert_eq!(
        stdout_of(&path).trim(),
        format!("{host}/team/demo:1.0.0@{digest}")
    );
    let stable_full = latest(&format!("{host}/team/demo"), true);
    assert_eq!(stdout_of(&stable_full), stdout_of(&path));
    assert!(!stderr_of(&full).contains(&format!("{host}/{host}")));
}

#[test]
fn help_texts_name_no_rust_api() {
    let ctx = TestContext::new();
    let help = stdout_of(&output(&ctx, ctx.plinth().arg("--help")));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions continue deeper; command names sit two spaces in.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    for command in std::iter::once("--help").chain(commands) {
        let out = output(&ctx, ctx.plinth().args([command, "--help"]));
        assert!(out.status.success(), "{command} --help");
        let text = stdout_of(&out);
        assert!(
            !text.contains("::") && !text.contains("with_"),
            "`plinth {command} --help` names a Rust API:\n{text}"
        );
    }
}
