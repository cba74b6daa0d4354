//! `RUN --mount=type=bind|tmpfs|secret` and `RUN --network=host` in the embedded engine: what a
//! step sees, what its key depends on, and that a secret is nowhere but in the step.

use std::io::Read;
use std::path::Path;

use plinth_engine::BuildOptions;
use plinth_executor::{BuildSecrets, CacheStatus, SecretValue};
use plinth_oci::{Digest, Platform};
use plinth_recipe::{Container, ReaderOptions, parse_dockerfile_with};

use crate::common::{Recorder, TestEngine, busybox_layout, error_chain, ok, require_root};

const SECRET: &str = "pl1nth-s3cret-Zq7";

fn read(text: &str, context: &Path) -> Container {
    let text = text.replace("{root}", &busybox_layout());
    parse_dockerfile_with(&text, &ReaderOptions::new(context)).unwrap()
}

fn secrets(value: &str) -> BuildSecrets {
    let mut secrets = BuildSecrets::new();
    secrets.insert("tok", SecretValue::new(value.as_bytes()));
    secrets
}

/// Every file under `dir`, gzip-compressed ones (layers) decompressed.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        let mut bytes = std::fs::read(&entry).unwrap_or_default();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            if flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut plain)
                .is_ok()
            {
                bytes = plain;
            }
        }
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(entry.display().to_string());
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let meta = entry.path().symlink_metadata().unwrap();
        if meta.is_dir() {
            out.extend(walk(&entry.path()));
        } else if meta.is_file() {
            out.push(entry.path());
        }
    }
    out
}

#[test]
fn a_secret_reaches_its_step_and_nothing_else() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let context = tempfile::tempdir().unwrap();
    let recipe = read(
        "FROM {root}\n\
         RUN --mount=type=secret,id=tok busybox sha256sum /run/secrets/tok > /sum && cat /run/secrets/tok && echo\n\
         RUN --mount=type=secret,id=tok,env=TOKEN,required=true printf %s \"$TOKEN\" | busybox sha256sum > /envsum\n\
         RUN --mount=type=secret,id=tok,target=/home/airbyte/t,mode=0440,uid=1000,gid=1000 stat -c '%a %u %g' /home/airbyte/t > /meta\n\
         RUN --mount=type=tmpfs,target=/var/tmp,size=1m grep ' /var/tmp ' /proc/mounts > /tmpfs && echo gone > /var/tmp/x\n",
        context.path(),
    );
    let recorder = Recorder::new();
    let options = BuildOptions::new([Platform::linux_amd64()])
        .with_secrets(secrets(SECRET))
        .with_reporter(recorder.clone());
    let result = ok(t.engine.build(&recipe, &options));
    let root = t.unpack(&result, &Platform::linux_amd64(), "out");
    let digest = Digest::of(SECRET.as_bytes()).hex().to_owned();
    let sum = std::fs::read_to_string(root.join("sum")).unwrap();
    assert!(sum.starts_with(&digest), "{sum}");
    let env_sum = std::fs::read_to_string(root.join("envsum")).unwrap();
    assert!(env_sum.starts_with(&digest), "{env_sum}");
    assert_eq!(
        std::fs::read_to_string(root.join("meta")).unwrap(),
        "440 1000 1000\n"
    );
    let tmpfs = std::fs::read_to_string(root.join("tmpfs")).unwrap();
    assert!(tmpfs.contains("size=1024k"), "{tmpfs}");
    // Mount points and the parents made for them are not part of the image.
    assert!(
        !root.join("run").exists(),
        "the secret's mount point stayed"
    );
    assert!(!root.join("home/airbyte/t").exists());
    assert!(
        !root.join("var/tmp/x").exists(),
        "the tmpfs reached the layer"
    );
    std::fs::remove_dir_all(&root).unwrap();

    // The value printed by the step is replaced in its output.
    let events = recorder.events.lock().unwrap().join("\n");
    assert!(events.contains("output 1 ****"), "{events}");
    assert!(!events.contains(SECRET), "{events}");
    // Not in a layer, a config, a manifest, a step record or a cache key input (the scan does
    // read the layers: it finds the digest the step wrote).
    assert!(!files_containing(t.dir.path(), digest.as_bytes()).is_empty());
    let found = files_containing(t.dir.path(), SECRET.as_bytes());
    assert!(found.is_empty(), "the secret is in {found:#?}");
    for report in recorder.done.lock().unwrap().iter() {
        let text = format!(
            "{} {} {}",
            report.description, report.explanation, report.key
        );
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[test]
fn a_bind_source_is_in_the_key_and_a_secret_value_is_not() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("a.txt"), "first\n").unwrap();
    let text = "FROM {root}\nRUN --mount=type=bind,source=a.txt,target=/in.txt --mount=type=secret,id=tok \
                cat /in.txt > /copy\n";
    let build = |secret: &str| {
        let recipe = read(text, context.path());
        let recorder = Recorder::new();
        let options = BuildOptions::new([Platform::linux_amd64()])
            .with_secrets(secrets(secret))
            .with_reporter(recorder.clone());
        let result = ok(t.engine.build(&recipe, &options));
        let root = t.unpack(&result, &Platform::linux_amd64(), "out");
        let copy = std::fs::read_to_string(root.join("copy")).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let status = recorder.done.lock().unwrap()[1].status;
        (copy, status)
    };
    assert_eq!(build("one"), ("first\n".to_owned(), CacheStatus::Miss));
    assert_eq!(
        build("another value"),
        ("first\n".to_owned(), CacheStatus::Hit),
        "a secret's value changed the step key"
    );
    std::fs::write(context.path().join("a.txt"), "second\n").unwrap();
    assert_eq!(
        build("one"),
        ("second\n".to_owned(), CacheStatus::Miss),
        "the bind source's contents are not in the step key"
    );
}

#[test]
fn host_network_and_required_secrets_need_the_build_to_give_them() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let context = tempfile::tempdir().unwrap();
    let host = read(
        "FROM {root}\nRUN --network=host cat /proc/net/dev > /dev-list\n",
        context.path(),
    );
    let options = BuildOptions::new([Platform::linux_amd64()]);
    let err = error_chain(&t.engine.build(&host, &options).unwrap_err());
    assert!(
        err.contains("`--allow network.host`") && err.contains("step #2"),
        "{err}"
    );
    let result = ok(t
        .engine
        .build(&host, &options.clone().with_host_network_allowed(true)));
    let root = t.unpack(&result, &Platform::linux_amd64(), "host");
    let seen = std::fs::read_to_string(root.join("dev-list")).unwrap();
    let host_list = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(seen.lines().count(), host_list.lines().count(), "{seen}");

    let required = read(
        "FROM {root}\nRUN --mount=type=secret,id=tok,required true\n",
        context.path(),
    );
    let err = error_chain(&t.engine.build(&required, &options).unwrap_err());
    assert!(
        err.contains("the secret `tok`") && err.contains("--secret id=tok,src=FILE"),
        "{err}"
    );
}

#[test]
fn independent_stages_build_at_the_same_time() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let context = tempfile::tempdir().unwrap();
    // Each stage waits for the other's marker in a shared cache volume: built one after the
    // other, the first would give up after 20 s and fail the build.
    let wait = |mine: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,target=/c,id=rendezvous touch /c/{mine} && i=0 && \
             while test $i -lt 200; do test -e /c/{other} && exit 0; sleep 0.1; i=$((i+1)); done; exit 1\n"
        )
    };
    let text = format!(
        "FROM {{root}} AS a\n{}RUN echo a > /a\nFROM {{root}} AS b\n{}RUN echo b > /b\n\
         FROM {{root}}\nCOPY --from=a /a /a\nRUN --mount=type=bind,from=b,source=/b,target=/tmp/b cat /tmp/b > /b\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let recipe = read(&text, context.path());
    let result = ok(t
        .engine
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()])));
    let root = t.unpack(&result, &Platform::linux_amd64(), "out");
    assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "a\n");
    assert_eq!(std::fs::read_to_string(root.join("b")).unwrap(), "b\n");
}
