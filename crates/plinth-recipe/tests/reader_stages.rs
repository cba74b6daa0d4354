//! Stages as BuildKit dispatches them: only the target and what it depends on are read (their
//! bases resolved, their errors reported); parse errors count in every stage.

mod support;

use plinth_recipe::{BaseConfig, DirectorySource, Error, Op, ReaderOptions, base_images};
use support::parse_dockerfile_with;

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
    dir
}

fn problems(text: &str, options: &ReaderOptions) -> Vec<(usize, String)> {
    match parse_dockerfile_with(text, options) {
        Err(Error::Dockerfile { problems }) => {
            problems.into_iter().map(|p| (p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

/// A stage nothing needs: its base is not among the images to resolve, and what only
/// dispatching it would find wrong (a missing context file, an unset `${V:?}`, a variable from
/// an unresolved base) is not reported.
const UNNEEDED: &str = "FROM registry.example/base:1 AS used\n\
    RUN echo u > /u\n\
    FROM registry.example/absent:1 AS unused\n\
    ARG A=${NOPE:?must be set}\n\
    ENV X=${NOPE:?must be set} P=$BASE_ONLY\n\
    COPY missing.txt /x\n\
    COPY --from=registry.example/also-absent:1 /x /y\n\
    FROM registry.example/base:1\n\
    COPY --from=used /u /u\n";

#[test]
fn an_unneeded_stage_is_parsed_but_neither_resolved_nor_dispatched() {
    let ctx = context();
    let options = ReaderOptions::new(ctx.path());
    assert_eq!(
        base_images(UNNEEDED, &options),
        ["registry.example/base:1"],
        "the unneeded stage's base is never resolved"
    );
    let options = options.with_base_config("registry.example/base:1", BaseConfig::default());
    let c = parse_dockerfile_with(UNNEEDED, &options).unwrap();
    let copied = c.ops().iter().find_map(|op| match op {
        Op::Directory {
            source: DirectorySource::Container { container, path },
            ..
        } => Some((container.ops().len(), path.clone())),
        _ => None,
    });
    assert_eq!(copied, Some((2, "/u".to_owned())), "{c:?}");
}

#[test]
fn the_target_needs_only_its_own_stages() {
    let ctx = context();
    let text = "FROM registry.example/base:1 AS final\nRUN echo f > /f\n\
                FROM registry.example/absent:1\nCOPY missing.txt /x\n";
    let options = ReaderOptions::new(ctx.path()).with_target("final");
    assert_eq!(base_images(text, &options), ["registry.example/base:1"]);
    parse_dockerfile_with(text, &options).unwrap();
    // Without the target the last stage is built, and its errors are reported.
    let all = problems(text, &ReaderOptions::new(ctx.path()));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].0, 4);
    assert!(all[0].1.contains("missing.txt"), "{all:?}");
}

#[test]
fn a_stage_a_needed_stage_copies_or_mounts_from_is_needed_through_its_base() {
    let ctx = context();
    let text = "FROM registry.example/a:1 AS a\nFROM a AS b\nFROM registry.example/c:1 AS c\n\
                FROM registry.example/d:1\nCOPY --from=b /x /x\n\
                RUN --mount=type=bind,from=c,target=/m true\n";
    assert_eq!(
        base_images(text, &ReaderOptions::new(ctx.path())),
        [
            "registry.example/a:1",
            "registry.example/c:1",
            "registry.example/d:1"
        ]
    );
}

#[test]
fn parse_errors_count_in_unneeded_stages_too() {
    let ctx = context();
    let text = "FROM registry.example/base:1 AS unused\n\
                RUN --bogus true\n\
                FOO bar\n\
                COPY --nope a.txt /\n\
                FROM registry.example/base:1\n";
    let found = problems(text, &ReaderOptions::new(ctx.path()));
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4], "{found:?}");
    assert!(
        found[0]
            .1
            .contains("the RUN flag `--bogus` is not one BuildKit knows"),
        "{found:?}"
    );
    assert!(
        found[1].1.contains("unknown instruction `FOO`"),
        "{found:?}"
    );
    assert!(found[2].1.contains("`--nope`"), "{found:?}");
    // A malformed reference in an unneeded FROM is reported too, as BuildKit parses every base.
    let bad = "FROM registry.example/UPPER:1 AS unused\nFROM registry.example/base:1\n";
    let found = problems(bad, &ReaderOptions::new(ctx.path()));
    assert_eq!(found[0].0, 1, "{found:?}");
}

#[test]
fn copying_from_a_stage_defined_later_is_refused_as_buildkit_refuses_it() {
    let ctx = context();
    let text = "FROM registry.example/base:1 AS mid\nCOPY --from=later /x /x\n\
                FROM registry.example/base:1 AS later\nFROM registry.example/base:1\n";
    let found = problems(text, &ReaderOptions::new(ctx.path()).with_target("mid"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 2);
    assert!(
        found[0]
            .1
            .contains("`--from=later` names a stage defined after this one"),
        "{found:?}"
    );
}

/// `FROM --platform=…`: a stage pinned to another platform than the build's carries it (and
/// passes it to the stages built on it); the build's own platform, however named, changes
/// nothing; its base is resolved for its platform.
#[test]
fn a_stage_pinned_to_another_platform_carries_it() {
    use plinth_oci::Platform;
    use plinth_recipe::{BuildableOptions, base_images_by_platform};
    let ctx = context();
    let text = "ARG ARCH=arm64\nFROM --platform=linux/$ARCH registry.example/base:1 AS cross\nRUN echo x > /x\n\
                FROM cross AS child\nRUN echo y > /y\n\
                FROM --platform=$BUILDPLATFORM registry.example/base:1 AS native\nRUN echo n > /n\n\
                FROM --platform=$TARGETPLATFORM registry.example/base:1\nCOPY --from=child /x /y /\nCOPY --from=native /n /n\n";
    let options = ReaderOptions::new(ctx.path()).with_platform(Platform::linux_amd64());
    assert_eq!(
        base_images_by_platform(text, &options),
        [
            (
                Some(Platform::linux_arm64()),
                "registry.example/base:1".to_owned()
            ),
            (None, "registry.example/base:1".to_owned()),
        ]
    );
    let options = options
        .with_base_config("registry.example/base:1", BaseConfig::default())
        .with_platform_base_config(
            Platform::linux_arm64(),
            "registry.example/base:1",
            BaseConfig::default(),
        );
    let c = parse_dockerfile_with(text, &options).unwrap();
    assert_eq!(c.platform(), None, "$TARGETPLATFORM is the build's");
    let helpers: Vec<(Option<Platform>, usize)> = c
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Directory {
                source: DirectorySource::Container { container, .. },
                ..
            } => Some((container.platform().cloned(), container.ops().len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        helpers,
        [
            (Some(Platform::linux_arm64()), 3),
            (Some(Platform::linux_arm64()), 3),
            (None, 2)
        ],
        "{c:?}"
    );
    let buildable = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
    assert!(
        buildable
            .text
            .contains("FROM --platform=linux/arm64 registry.example/base:1 AS stage0\n"),
        "{}",
        buildable.text
    );
    assert_eq!(
        parse_dockerfile_with(&buildable.text, &options).unwrap(),
        c.normalized(),
        "{}",
        buildable.text
    );
    // Without the arm64 base's config, a variable only that base could set is refused.
    let text = "FROM --platform=linux/arm64 registry.example/base:1\nENV X=$FROM_BASE\n";
    let options = ReaderOptions::new(ctx.path())
        .with_platform(Platform::linux_amd64())
        .with_base_config("registry.example/base:1", BaseConfig::default());
    let found = problems(text, &options);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("FROM_BASE"), "{found:?}");
}

/// A base image's ONBUILD trigger that copies from a stage makes that stage needed where the
/// trigger runs; a trigger declared in the Dockerfile makes its stage needed only by the stage
/// built on the declaring one.
#[test]
fn onbuild_triggers_make_stages_needed_where_they_run() {
    use std::collections::BTreeMap;

    use plinth_oci::Platform;
    use plinth_recipe::{
        BaseError, BaseResolver, ImageSource, ImageSubstitutions, read_dockerfile_resolved,
    };

    struct Configs(BTreeMap<String, BaseConfig>);
    impl BaseResolver for Configs {
        fn base_config(&self, source: &ImageSource, _: &Platform) -> Result<BaseConfig, BaseError> {
            self.0
                .get(source.address())
                .cloned()
                .ok_or_else(|| format!("no config for {}", source.address()).into())
        }
    }
    let ctx = context();
    let text = "FROM registry.example/assets-base:1 AS assets\nENV A=$FROM_ASSETS_BASE\nRUN echo a > /a\n\
                FROM registry.example/onbuild:1\nRUN true\n";
    let trigger = BaseConfig {
        on_build: vec!["COPY --from=assets /a /from-trigger".to_owned()],
        ..BaseConfig::default()
    };
    let options = ReaderOptions::new(ctx.path()).with_platform(Platform::linux_amd64());
    assert_eq!(
        base_images(text, &options),
        ["registry.example/onbuild:1"],
        "without the base's config its triggers are unknown"
    );
    let known = options
        .clone()
        .with_base_config("registry.example/onbuild:1", trigger.clone());
    assert_eq!(
        base_images(text, &known),
        [
            "registry.example/assets-base:1",
            "registry.example/onbuild:1"
        ]
    );
    let resolver = Configs(BTreeMap::from([
        ("registry.example/onbuild:1".to_owned(), trigger),
        (
            "registry.example/assets-base:1".to_owned(),
            BaseConfig {
                env: vec![("FROM_ASSETS_BASE".to_owned(), "x".to_owned())],
                ..BaseConfig::default()
            },
        ),
    ]));
    let read =
        read_dockerfile_resolved(text, &options, &resolver, &ImageSubstitutions::new()).unwrap();
    let copied = read.container.ops().iter().any(|op| {
        matches!(op, Op::Directory { source: DirectorySource::Container { path, .. }, .. } if path == "/a")
    });
    assert!(copied, "{:?}", read.container);

    // Declared in the Dockerfile: `--target base` does not need `assets`.
    let text = "FROM registry.example/onbuild:1 AS assets\nCOPY missing.txt /x\n\
                FROM registry.example/base:1 AS base\nONBUILD COPY --from=assets /x /y\n\
                FROM base\nRUN true\n";
    let options = ReaderOptions::new(ctx.path()).with_target("base");
    assert_eq!(base_images(text, &options), ["registry.example/base:1"]);
    let options = options.with_base_config("registry.example/base:1", BaseConfig::default());
    parse_dockerfile_with(text, &options).unwrap();
    let all = ReaderOptions::new(ctx.path());
    assert_eq!(
        base_images(text, &all),
        ["registry.example/onbuild:1", "registry.example/base:1"]
    );
}
