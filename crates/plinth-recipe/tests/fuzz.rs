//! Property tests: the reader never panics, and the buildable view of any representable recipe
//! reads back into the recipe's normal form.

mod support;

use plinth_recipe::{
    BuildableOptions, Container, DirectorySource, ExecOptions, FileOptions, FileSource, HealthCheck,
};
use proptest::prelude::*;
use support::parse_dockerfile;

fn dockerfile_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("FROM ".to_owned()),
        Just("RUN ".to_owned()),
        Just("ENV ".to_owned()),
        Just("ARG ".to_owned()),
        Just("COPY ".to_owned()),
        Just("ADD ".to_owned()),
        Just("LABEL ".to_owned()),
        Just("CMD ".to_owned()),
        Just("ENTRYPOINT ".to_owned()),
        Just("WORKDIR ".to_owned()),
        Just("USER ".to_owned()),
        Just("--mount=type=cache,target=/c ".to_owned()),
        Just("--from=0 ".to_owned()),
        Just("AS s ".to_owned()),
        Just("\\\n".to_owned()),
        Just("\n".to_owned()),
        Just("# escape=`\n".to_owned()),
        Just("${A:-".to_owned()),
        Just("$".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("[\"".to_owned()),
        Just("]".to_owned()),
        Just("<<EOF".to_owned()),
        Just("https://x/y ".to_owned()),
        "[ -~]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reader_never_panics(text in dockerfile_like()) {
        let _ = parse_dockerfile(&text, "/nonexistent");
    }

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(text in any::<String>()) {
        let _ = parse_dockerfile(&text, "/nonexistent");
    }
}

/// Text without NUL or line breaks (what a Dockerfile word can hold).
fn one_line() -> impl Strategy<Value = String> {
    "[^\\x00\\n\\r]{0,16}"
}

fn any_text() -> impl Strategy<Value = String> {
    "[^\\x00]{0,16}"
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof!["/[a-z0-9 ._$\"'\\\\-]{1,12}[a-z]", "[a-z][a-z0-9._-]{0,8}"]
}

fn owner() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["[a-z][a-z0-9_]{0,6}", "[0-9]{1,4}:[0-9]{1,4}"])
}

fn mode() -> impl Strategy<Value = Option<u32>> {
    prop::option::of(0u32..=0o7777)
}

#[derive(Clone, Debug)]
enum Step {
    Exec(Vec<String>, bool),
    Env(String, String),
    Label(String, String),
    User(String),
    Workdir(String),
    Entrypoint(Vec<String>),
    DefaultArgs(Vec<String>),
    Url(String, String, Option<String>, Option<u32>, bool),
    FromHelper(String, String, Option<String>),
    Cache(String, String, Option<(u32, u32)>),
    Uncache,
    Setting(u8, String, u32),
}

fn step() -> impl Strategy<Value = Step> {
    let argv = (
        any_text().prop_filter("program", |s| !s.is_empty()),
        prop::collection::vec(any_text(), 0..4),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<Vec<_>>());
    prop_oneof![
        3 => (argv, any::<bool>()).prop_map(|(a, n)| Step::Exec(a, n)),
        2 => ("[A-Za-z_][A-Za-z0-9_]{0,8}", one_line()).prop_map(|(n, v)| Step::Env(n, v)),
        1 => ("[a-z][a-z0-9. -]{0,10}", one_line()).prop_map(|(n, v)| Step::Label(n, v)),
        1 => prop_oneof!["[a-z][a-z0-9_]{0,6}", "[0-9]{1,4}:[0-9]{1,4}"].prop_map(Step::User),
        1 => path().prop_map(Step::Workdir),
        1 => prop::collection::vec(any_text(), 0..3).prop_map(Step::Entrypoint),
        1 => prop::collection::vec(any_text(), 0..3).prop_map(Step::DefaultArgs),
        1 => ("[a-z0-9/._-]{1,12}", path(), owner(), mode(), any::<bool>()).prop_map(|(u, p, o, m, pin)| Step::Url(u, p, o, m, pin)),
        1 => ("/[a-z]{1,6}", prop_oneof![path(), path().prop_map(|p| format!("{p}/"))], owner()).prop_map(|(s, d, o)| Step::FromHelper(s, d, o)),
        1 => ("/[a-z]{1,3}", "[a-z_]{1,6}", prop::option::of((0u32..5000, 0u32..5000))).prop_map(|(p, v, o)| Step::Cache(p, v, o)),
        1 => Just(Step::Uncache),
        2 => (0u8..7, "(--)?[a-zA-Z0-9/ _.-]{1,10}", 0u32..100_000).prop_map(|(k, t, n)| Step::Setting(k, t, n)),
    ]
}

fn build(steps: &[Step]) -> Container {
    let helper = Container::from_address("busybox:1.36")
        .unwrap()
        .with_exec(["mkdir", "-p", "/out/a"]);
    let mut c = Container::from_address("docker.io/debian:bookworm-slim").unwrap();
    for s in steps {
        c = match s.clone() {
            Step::Exec(argv, net) => {
                let opts = if net {
                    ExecOptions::default()
                } else {
                    ExecOptions::without_network()
                };
                c.with_exec_opts(argv, opts)
            }
            Step::Env(n, v) => c.with_env(n, v),
            Step::Label(n, v) => c.with_label(n, v),
            Step::User(u) => c.with_user(u),
            Step::Workdir(p) => c.with_workdir(p),
            Step::Entrypoint(a) => c.with_entrypoint(a),
            Step::DefaultArgs(a) => c.with_default_args(a),
            Step::Url(u, p, o, m, pin) => {
                let url = format!("https://example.invalid/{u}");
                let source = if pin {
                    FileSource::pinned_url(url, plinth_oci::Digest::of(u.as_bytes()))
                } else {
                    FileSource::url(url)
                };
                c.with_file_opts(
                    p,
                    source,
                    FileOptions {
                        owner: o,
                        mode: m.map(Into::into),
                    },
                )
            }
            Step::FromHelper(src, dest, o) => c.with_directory_opts(
                dest,
                DirectorySource::container(&helper, src),
                FileOptions {
                    owner: o,
                    mode: None,
                },
            ),
            Step::Cache(p, v, o) => match o {
                Some((u, g)) => c.with_mounted_cache_owned(p, v, format!("{u}:{g}")),
                None => c.with_mounted_cache(p, v),
            },
            Step::Uncache => match c.final_state().caches().first() {
                Some(cache) => c.without_mounted_cache(cache.path.clone()),
                None => c,
            },
            Step::Setting(kind, text, n) => {
                // Words may start with `--`: the recipe must then either render them so they
                // read back (STOPSIGNAL quotes) or refuse them (MAINTAINER, ONBUILD).
                let word = text.trim().replace(' ', "_");
                let word = if word.is_empty() {
                    "x".to_owned()
                } else {
                    word
                };
                match kind {
                    0 => c.with_exposed_ports([format!("{}/udp", n % 65536)]),
                    1 => c.with_volumes([format!("/{word}"), word.clone()]),
                    2 => c.with_stop_signal(word),
                    3 => c.with_onbuild(format!("RUN {word}")),
                    4 => c.with_shell(["/bin/sh".to_owned(), text]),
                    5 => c.with_author(word),
                    _ => c.with_healthcheck(HealthCheck {
                        test: vec!["CMD".into(), text],
                        interval: (n > 0).then_some(u64::from(n) * 1_000_000),
                        retries: (n % 7 > 0).then_some(n % 7),
                        ..HealthCheck::default()
                    }),
                }
            }
        };
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn buildable_view_reads_back_into_the_normal_form(steps in prop::collection::vec(step(), 0..14)) {
        let recipe = build(&steps);
        let built = match recipe.buildable_dockerfile(&BuildableOptions::new()) {
            Ok(built) => built,
            Err(e) => {
                // The one thing the builder API may hold that no Dockerfile can: a MAINTAINER
                // or ONBUILD value starting with `--`. Anything else must render.
                let message = e.to_string();
                prop_assert!(message.contains("starts with `--`, which a Dockerfile reads as a flag"), "{}", message);
                return Ok(());
            }
        };
        let back = parse_dockerfile(&built.text, "/nonexistent");
        prop_assert!(back.is_ok(), "{}\n{:?}", built.text, back);
        prop_assert_eq!(back.unwrap(), recipe.normalized(), "{}", built.text);
    }
}
