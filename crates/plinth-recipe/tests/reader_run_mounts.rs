//! `RUN --mount=type=bind|tmpfs|secret`, `RUN --network` and `--target` in the Dockerfile reader.

mod support;

use plinth_recipe::{
    BindSource, BuildableOptions, Container, Network, Op, ReaderOptions, RunMount, SecretMount,
    read_dockerfile,
};
use support::{parse_dockerfile, parse_dockerfile_with};

fn exec_of(c: &Container) -> (&Vec<RunMount>, Network) {
    match c.ops().last().unwrap() {
        Op::Exec {
            mounts, network, ..
        } => (mounts, *network),
        other => panic!("not an exec: {other:?}"),
    }
}

fn problem(text: &str) -> String {
    parse_dockerfile(text, "/nonexistent")
        .unwrap_err()
        .to_string()
}

#[test]
fn bind_mounts_name_the_context_or_a_stage() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::create_dir(ctx.path().join("src")).unwrap();
    std::fs::write(ctx.path().join("src/a"), "a").unwrap();
    let c = parse_dockerfile(
        "FROM scratch AS b\nCOPY src /out\nFROM scratch\nWORKDIR /app\n\
         RUN --mount=type=bind,source=src,target=in --mount=from=b,src=out,dst=/b,rw true\n",
        ctx.path(),
    )
    .unwrap();
    let stage = parse_dockerfile("FROM scratch\nCOPY src /out\n", ctx.path()).unwrap();
    let (mounts, network) = exec_of(&c);
    assert_eq!(network, Network::Enabled);
    assert_eq!(
        mounts,
        &vec![
            RunMount::Bind {
                target: "/app/in".into(),
                source: BindSource::Host(ctx.path().join("src")),
                rw: false,
            },
            RunMount::Bind {
                target: "/b".into(),
                source: BindSource::Container {
                    container: Box::new(stage),
                    path: "/out".into(),
                },
                rw: true,
            },
        ]
    );
}

/// BuildKit mounts the context as it received it, filtered by the ignore file: a directory of
/// such a context is mounted through the patterns; an ignored source is refused.
#[test]
fn bind_mounts_of_a_context_with_an_ignore_file_go_through_its_patterns() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::create_dir(ctx.path().join("src")).unwrap();
    std::fs::write(ctx.path().join("src/a"), "a").unwrap();
    std::fs::write(ctx.path().join("b.log"), "b").unwrap();
    std::fs::write(ctx.path().join(".dockerignore"), "*.log\nsrc/tmp\n").unwrap();
    let c = parse_dockerfile(
        "FROM scratch\nRUN --mount=type=bind,source=src,target=/in --mount=type=bind,target=/ctx true\n",
        ctx.path(),
    )
    .unwrap();
    let patterns = vec!["*.log".to_owned(), "src/tmp".to_owned()];
    assert_eq!(
        exec_of(&c).0,
        &vec![
            RunMount::Bind {
                target: "/in".into(),
                source: BindSource::HostIgnoring {
                    path: ctx.path().join("src"),
                    within: "src".into(),
                    ignore: patterns.clone(),
                },
                rw: false,
            },
            RunMount::Bind {
                target: "/ctx".into(),
                source: BindSource::HostIgnoring {
                    path: ctx.path().to_path_buf(),
                    within: String::new(),
                    ignore: patterns,
                },
                rw: false,
            },
        ]
    );
    let err = parse_dockerfile(
        "FROM scratch\nRUN --mount=type=bind,source=b.log,target=/b true\n",
        ctx.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 2") && err.contains("add `!b.log` after it"),
        "{err}"
    );
}

#[test]
fn secrets_and_tmpfs_read_as_buildkit_reads_them() {
    let c = parse_dockerfile(
        "FROM scratch\nRUN --mount=type=secret,source=tok,env=T --mount=type=secret,target=/etc/key,mode=0440,uid=5,required \
         --mount=type=tmpfs,target=/t,size=64m --network=host true\n",
        "/nonexistent",
    )
    .unwrap();
    let (mounts, network) = exec_of(&c);
    assert_eq!(network, Network::Host);
    assert_eq!(
        mounts,
        &vec![
            RunMount::Secret(SecretMount {
                env: Some("T".into()),
                ..SecretMount::new("tok")
            }),
            RunMount::Secret(SecretMount {
                target: Some("/etc/key".into()),
                mode: 0o440,
                uid: 5,
                required: true,
                ..SecretMount::new("key")
            }),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20),
            },
        ]
    );
    // The secret env var is the only file-less form; a plain id gets /run/secrets/<id>.
    assert_eq!(mounts[0].target(), None);
    assert_eq!(
        RunMount::Secret(SecretMount::new("x")).target().as_deref(),
        Some("/run/secrets/x")
    );
}

#[test]
fn mount_mistakes_name_the_line_and_the_way_out() {
    for (text, needle) in [
        (
            "FROM scratch\nRUN --mount=type=ssh,from=x true\n",
            "`from` does not apply to `type=ssh`",
        ),
        (
            "FROM scratch\nRUN --mount=type=ssh,uid=me true\n",
            "`uid=me` is not a number",
        ),
        (
            "FROM scratch\nRUN --mount=type=bind true\n",
            "needs `target=`",
        ),
        (
            "FROM scratch\nRUN --mount=type=secret true\n",
            "needs `id=`",
        ),
        (
            "FROM scratch\nRUN --mount=type=secret,id=a,from=b true\n",
            "`from` does not apply",
        ),
        (
            "FROM scratch\nRUN --mount=type=tmpfs,target=/t,size=lots true\n",
            "size like 64m",
        ),
        (
            "FROM scratch\nRUN --mount=type=bind,target=/t,bogus=1 true\n",
            "`bogus` is not known",
        ),
        (
            "FROM scratch\nRUN --mount=type=nfs,target=/t true\n",
            "not a mount type",
        ),
        (
            "FROM scratch\nRUN --mount=type=bind,source=gone,target=/t true\n",
            "not in the build context",
        ),
        (
            "FROM scratch\nRUN --network=bridge true\n",
            "`default`, `none` or `host`",
        ),
        (
            "FROM x\nRUN --mount=type=bind,target=rel true\n",
            "write it as an absolute path",
        ),
    ] {
        let err = problem(text);
        assert!(
            err.contains("line 2: ") && err.contains(needle),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn target_picks_a_stage_by_name() {
    let text = "FROM scratch AS one\nENV A=1\nFROM scratch AS Two\nENV B=2\nFROM one\nENV C=3\n";
    let options = ReaderOptions::new("/nonexistent").with_target("two");
    let c = parse_dockerfile_with(text, &options).unwrap();
    assert_eq!(c, Container::new().with_env("B", "2"));
    let err = read_dockerfile(text, &ReaderOptions::new("/x").with_target("three"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`three` is not in the Dockerfile") && err.contains("one, two"),
        "{err}"
    );
}

#[test]
fn the_buildable_view_writes_mounts_that_read_back_the_same() {
    let stage = Container::from_address("registry.example/b:1")
        .unwrap()
        .with_exec(["mkdir", "/out"]);
    let c = Container::from_address("registry.example/a:1")
        .unwrap()
        .with_exec_opts(
            ["sh", "-c", "cat /run/secrets/tok"],
            plinth_recipe::ExecOptions::default()
                .with_mount(RunMount::Secret(SecretMount {
                    required: true,
                    mode: 0o440,
                    ..SecretMount::new("tok")
                }))
                .with_mount(RunMount::Tmpfs {
                    target: "/t".into(),
                    size: None,
                })
                .with_mount(RunMount::Bind {
                    target: "/b".into(),
                    source: BindSource::Container {
                        container: Box::new(stage),
                        path: "/out".into(),
                    },
                    rw: true,
                }),
        );
    let built = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
    assert!(
        built.text.contains(
            "RUN --mount=type=secret,id=tok,required=true,mode=0440 --mount=type=tmpfs,target=/t \
             --mount=type=bind,from=stage0,source=/out,target=/b,rw [\"sh\",\"-c\",\"cat /run/secrets/tok\"]"
        ),
        "{}",
        built.text
    );
    let back = parse_dockerfile(&built.text, "/nonexistent").unwrap();
    assert_eq!(back, c.normalized());
    assert_eq!(
        c.secret_ids().into_iter().collect::<Vec<_>>(),
        vec!["tok".to_owned()]
    );
}

#[test]
fn a_base_images_onbuild_triggers_run_right_after_from() {
    use plinth_recipe::{BaseConfig, ImageSetting};
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("a.txt"), "a").unwrap();
    let base = |triggers: &[&str]| BaseConfig {
        on_build: triggers.iter().map(|t| t.to_string()).collect(),
        ..BaseConfig::default()
    };
    let options = ReaderOptions::new(ctx.path()).with_base_config(
        "registry.example/onbuild:1",
        base(&["RUN echo trig", "ENV T=1"]),
    );
    let c =
        parse_dockerfile_with("FROM registry.example/onbuild:1\nRUN echo $T\n", &options).unwrap();
    let ops = c.ops();
    assert!(
        matches!(&ops[1], Op::Exec { argv, .. } if argv[2] == "echo trig"),
        "{ops:?}"
    );
    assert_eq!(
        ops[2],
        Op::Env {
            name: "T".into(),
            value: "1".into()
        }
    );
    assert_eq!(
        ops[3],
        Op::Config {
            setting: ImageSetting::OnBuildTriggersRan
        }
    );
    // The image's buildable view cannot stand for it: BuildKit would run the triggers again.
    let err = c
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--engine embedded"), "{err}");

    for (trigger, needle) in [
        ("FROM other", "FROM isn't allowed as a trigger"),
        ("COPY missing /x", "the ONBUILD trigger `COPY missing /x`"),
    ] {
        let options = ReaderOptions::new(ctx.path())
            .with_base_config("registry.example/onbuild:1", base(&[trigger]));
        let err = parse_dockerfile_with("FROM registry.example/onbuild:1\n", &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1: ") && err.contains(needle), "{err}");
    }
}

#[test]
fn ssh_mounts_take_buildkits_defaults() {
    let ctx = tempfile::tempdir().unwrap();
    let text = "FROM scratch\nWORKDIR /w\nRUN --mount=type=ssh --mount=type=ssh,id=gh,target=agent,mode=0660,uid=1000,gid=1001,required true\n";
    let c = parse_dockerfile(text, ctx.path()).unwrap();
    let Some(plinth_recipe::Op::Exec { mounts, env, .. }) = c.ops().last() else {
        panic!("{c:?}")
    };
    assert!(env.is_empty(), "the agent is not a build arg: {env:?}");
    assert_eq!(
        mounts,
        &[
            RunMount::Ssh(plinth_recipe::SshMount::new("default", 0)),
            RunMount::Ssh(plinth_recipe::SshMount {
                target: "/w/agent".into(),
                mode: 0o660,
                uid: 1000,
                gid: 1001,
                required: true,
                ..plinth_recipe::SshMount::new("gh", 1)
            }),
        ]
    );
    assert_eq!(
        c.ssh_ids().into_iter().collect::<Vec<_>>(),
        ["default", "gh"]
    );
}
