//! The reader against BuildKit's semantics: ARG scoping, ENV expansion order, platform args, and
//! the constructs it refuses rather than build something else.

mod support;

use plinth_oci::Platform;
use plinth_recipe::{BuildableOptions, Container, Error, ExecOptions, Op, ReaderOptions};
use support::{parse_dockerfile, parse_dockerfile_with};

fn problems_with(text: &str, options: &ReaderOptions) -> Vec<(usize, String)> {
    match parse_dockerfile_with(text, options) {
        Err(Error::Dockerfile { problems }) => {
            problems.into_iter().map(|p| (p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

/// The destinations of a recipe's file operations, in order.
fn file_paths(c: &Container) -> Vec<&str> {
    c.ops()
        .iter()
        .filter_map(|op| match op {
            Op::File { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect()
}

fn problems(text: &str) -> Vec<(usize, String)> {
    problems_with(text, &ReaderOptions::new("/nonexistent"))
}

/// An exec's argv and its build-time env.
type ExecSummary = (Vec<String>, Vec<(String, String)>);

fn execs(c: &Container) -> Vec<ExecSummary> {
    c.ops()
        .iter()
        .filter_map(|op| match op {
            Op::Exec { argv, env, .. } => Some((
                argv.clone(),
                env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            )),
            _ => None,
        })
        .collect()
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn env_expands_every_word_with_the_values_from_before_the_instruction() {
    let c = parse_dockerfile(
        "FROM scratch\nENV A=hi\nENV A=bye B=$A C=${A}x\nLABEL l=$A\n",
        "/nonexistent",
    )
    .unwrap();
    let state = c.final_state();
    assert_eq!(
        state.env(),
        &kv(&[("A", "bye"), ("B", "hi"), ("C", "hix")])[..]
    );
    assert_eq!(state.labels(), &kv(&[("l", "bye")])[..]);
}

#[test]
fn arg_values_reach_run_but_not_the_image_config() {
    let text = "ARG W\nFROM scratch\nARG V=2.0\nARG W\nARG A=1 B=$A\nRUN [\"/x\"]\nENV V=env\nRUN [\"/y\"]\nARG V=again\nRUN [\"/z\"]\n";
    let options = ReaderOptions::new("/nonexistent").with_build_arg("W", "x");
    let c = parse_dockerfile_with(text, &options).unwrap();
    let all = kv(&[("A", "1"), ("B", "1"), ("V", "2.0"), ("W", "x")]);
    let after_env = kv(&[("A", "1"), ("B", "1"), ("W", "x")]);
    let again = kv(&[("A", "1"), ("B", "1"), ("V", "again"), ("W", "x")]);
    assert_eq!(
        execs(&c),
        vec![
            (vec!["/x".to_owned()], all),
            (vec!["/y".to_owned()], after_env),
            (vec!["/z".to_owned()], again),
        ]
    );
    // Only ENV is in the image config.
    assert_eq!(c.final_state().env(), &kv(&[("V", "env")])[..]);
    // The buildable view writes them as ARGs and reads back the same.
    let built = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
    assert!(built.text.contains("ARG V=\"2.0\"\n"), "{}", built.text);
    let back = parse_dockerfile(&built.text, "/nonexistent").unwrap();
    assert_eq!(back, c.normalized());
}

#[test]
fn a_stage_inherits_the_args_of_the_stage_it_is_built_on() {
    let text = "FROM scratch AS a\nARG V=1\nFROM a\nRUN [\"/x\"]\n";
    let c = parse_dockerfile(text, "/nonexistent").unwrap();
    assert_eq!(execs(&c)[0].1, kv(&[("V", "1")]));
}

#[test]
fn platform_args_come_from_the_platform_read_for() {
    let text = "FROM busybox:${TARGETARCH}\nARG TARGETARCH\nARG TARGETPLATFORM TARGETVARIANT\nENV A=$TARGETARCH P=$TARGETPLATFORM V=[$TARGETVARIANT]\n";
    let options =
        ReaderOptions::new("/nonexistent").with_platform(Platform::new("linux", "arm64", None));
    let c = parse_dockerfile_with(text, &options).unwrap();
    assert_eq!(
        c.ops()[0],
        Op::From {
            source: "busybox:arm64".parse().unwrap()
        }
    );
    assert_eq!(
        c.final_state().env(),
        &kv(&[("A", "arm64"), ("P", "linux/arm64"), ("V", "[]")])[..]
    );
    // Without a platform they are refused, not empty.
    let found = problems("FROM scratch\nARG TARGETARCH\nRUN echo $TARGETARCH\n");
    assert_eq!(found[0].0, 2, "{found:?}");
    assert!(found[0].1.contains("platform"), "{found:?}");
    // Used in a stage without `ARG`, it is unset in BuildKit too: plinth says so.
    let options =
        ReaderOptions::new("/nonexistent").with_platform(Platform::new("linux", "amd64", None));
    let found = problems_with("FROM busybox\nWORKDIR /$TARGETARCH\n", &options);
    assert!(found[0].1.contains("ARG TARGETARCH"), "{found:?}");
}

#[test]
fn variables_the_base_image_may_set_are_refused_not_emptied() {
    let found = problems("FROM busybox\nENV PATH=/opt/bin:$PATH\nARG U\nUSER $U\n");
    assert_eq!(
        found.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert!(found[0].1.contains("`$PATH`") && found[0].1.contains("ENV PATH=…"));
    // On scratch nothing is inherited: unset is empty, as in BuildKit.
    let c = parse_dockerfile("FROM scratch\nARG U\nENV X=[$U]\n", "/nonexistent").unwrap();
    assert_eq!(c.final_state().env(), &kv(&[("X", "[]")])[..]);
}

#[test]
fn foreign_frontends_are_refused_and_stable_ones_accepted() {
    for ok in [
        "docker/dockerfile:1",
        "docker/dockerfile:1.7",
        "docker.io/docker/dockerfile:1.4.3",
    ] {
        parse_dockerfile(&format!("# syntax={ok}\nFROM scratch\n"), "/nonexistent").unwrap();
    }
    for bad in [
        "docker/dockerfile:1-labs",
        "example.com/frontend:2",
        "docker/dockerfile:2",
    ] {
        let found = problems(&format!("# syntax={bad}\nFROM scratch\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 1);
        assert!(found[0].1.contains(bad) && found[0].1.contains("docker/dockerfile:1"));
    }
}

#[test]
fn wildcards_expand_against_the_context_in_order() {
    let ctx = tempfile::tempdir().unwrap();
    for f in ["b.txt", "a.txt", "c.md"] {
        std::fs::write(ctx.path().join(f), f).unwrap();
    }
    let c = parse_dockerfile("FROM scratch\nCOPY *.txt /w/\n", ctx.path()).unwrap();
    let paths = file_paths(&c);
    assert_eq!(paths, ["/w/a.txt", "/w/b.txt"]);
    let found = problems_with(
        "FROM scratch\nCOPY *.txt /w\nCOPY [ /x\n",
        &ReaderOptions::new(ctx.path()),
    );
    assert!(found[0].1.contains("must end with `/`"), "{found:?}");
    assert!(found[1].1.contains("not a valid wildcard"), "{found:?}");
}

#[test]
fn wildcards_in_copy_from_are_kept_for_the_engine_to_expand_against_the_stage() {
    let c = parse_dockerfile(
        "FROM scratch AS a\nFROM scratch\nCOPY --from=a /out/*.so /lib/\n",
        "/nonexistent",
    )
    .unwrap();
    let copied: Vec<(&str, &str)> = c
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Directory {
                path,
                source: plinth_recipe::DirectorySource::Container { path: from, .. },
                ..
            } => Some((path.as_str(), from.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(copied, [("/lib/", "/out/*.so")]);
}

#[test]
fn build_env_round_trips_and_needs_consistency_in_the_buildable_view() {
    let c = Container::new()
        .with_exec_opts(["/a"], ExecOptions::default().with_build_env("K", "v 1"))
        .with_exec(["/b"]);
    assert!(c.buildable_dockerfile(&BuildableOptions::new()).is_err());
}

#[test]
fn image_settings_are_read_and_round_trip_through_the_buildable_view() {
    use plinth_recipe::{HealthCheck, ImageSetting};
    let text = "FROM scratch\nEXPOSE 80 53/udp\nVOLUME [\"/data\"]\n\
                HEALTHCHECK --interval=1m30s --retries=2 CMD [\"/check\", \"-q\"]\nSTOPSIGNAL SIGINT\n\
                ONBUILD RUN make\nSHELL [\"/bin/ash\", \"-c\"]\nRUN echo\nMAINTAINER me\nHEALTHCHECK NONE\n";
    let c = parse_dockerfile(text, "/nonexistent").unwrap();
    let settings: Vec<&ImageSetting> = c
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Config { setting } => Some(setting),
            _ => None,
        })
        .collect();
    assert_eq!(
        settings[2],
        &ImageSetting::Healthcheck {
            check: HealthCheck {
                test: vec!["CMD".into(), "/check".into(), "-q".into()],
                interval: Some(90_000_000_000),
                retries: Some(2),
                ..HealthCheck::default()
            }
        }
    );
    assert_eq!(settings.len(), 8);
    // SHELL changes the shell of later shell-form instructions.
    assert_eq!(
        execs(&c)[0].0,
        vec!["/bin/ash".to_owned(), "-c".into(), "echo".into()]
    );
    let built = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
    let back = parse_dockerfile(&built.text, "/nonexistent").unwrap();
    assert_eq!(back, c.normalized(), "{}", built.text);
}

#[test]
fn bad_settings_name_the_line_and_the_form() {
    let found = problems(
        "FROM scratch\nEXPOSE 80/xtp\nHEALTHCHECK --timeout=1us CMD x\nONBUILD FROM x\nSHELL /bin/sh -c\nHEALTHCHECK NONE x\nSTOPSIGNAL\n",
    );
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7], "{found:?}");
    for (needle, (_, message)) in [
        "tcp, udp or sctp",
        "less than 1ms",
        "isn't allowed as an ONBUILD trigger",
        "JSON array",
        "no arguments",
        "one signal",
    ]
    .iter()
    .zip(&found)
    {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

#[test]
fn downloads_into_a_directory_are_named_as_buildkit_names_them() {
    let c = parse_dockerfile(
        "FROM scratch\nADD https://example.com/dl/a%20b.tar.gz /t/\n\
         ADD https://example.com/ /u/\nADD https://example.com/dir/?x=1 /v/\n",
        "/nonexistent",
    )
    .unwrap();
    let paths = file_paths(&c);
    assert_eq!(paths, ["/t/a b.tar.gz", "/u/__unnamed__", "/v/dir"]);
}

#[test]
fn cache_mount_options_are_read_and_written_back_for_buildkit() {
    use plinth_recipe::{CacheOptions, CacheSharing};
    let c = parse_dockerfile(
        "FROM scratch\nRUN --mount=type=cache,target=/c,id=v,mode=0700,sharing=locked,ro true\n\
         RUN --mount=type=cache,target=/d,sharing=private true\n",
        "/nonexistent",
    )
    .unwrap();
    let options: Vec<CacheOptions> = c
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::MountedCache { options, .. } => Some(options.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        options,
        [
            CacheOptions {
                mode: Some(0o700),
                sharing: CacheSharing::Locked,
                readonly: true,
                seed: None,
            },
            CacheOptions {
                mode: None,
                sharing: CacheSharing::Private,
                readonly: false,
                seed: None,
            },
        ]
    );
    let text = c
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap()
        .text;
    assert!(
        text.contains("--mount=type=cache,target=/c,id=v,mode=0700,sharing=locked,readonly"),
        "{text}"
    );
    let refused =
        problems("FROM scratch\nRUN --mount=type=cache,target=/c,sharing=sometimes true\n");
    assert!(
        refused[0].1.contains("shared, private or locked"),
        "{refused:?}"
    );
    let refused = problems("FROM scratch\nRUN --mount=type=cache,target=/c,source=/s true\n");
    assert_eq!(refused[0].0, 2, "{refused:?}");
    assert!(
        refused[0].1.contains("`source=/s`") && refused[0].1.contains("`from=NAME`"),
        "{refused:?}"
    );
    // A seeded cache with a relative target: the id is the target as written, the mount point
    // is under the workdir, and the seed is written as a stage of its own that the mount names.
    let c = parse_dockerfile(
        "FROM scratch\nWORKDIR /w\nRUN --mount=type=cache,target=c/,from=busybox:1,source=out true\n",
        "/nonexistent",
    )
    .unwrap();
    let Some(Op::MountedCache {
        volume,
        path,
        options,
        ..
    }) = c
        .ops()
        .iter()
        .find(|op| matches!(op, Op::MountedCache { .. }))
    else {
        panic!("no cache mount in {:?}", c.ops())
    };
    assert_eq!((volume.as_str(), path.as_str()), ("c", "/w/c"));
    assert_eq!(options.seed.as_ref().map(|s| s.path.as_str()), Some("/out"));
    let text = c
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap()
        .text;
    assert!(text.contains(",from=stage0,source=/out"), "{text}");
}
