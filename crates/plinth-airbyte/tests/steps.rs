//! The Airbyte step dictionary as recipes hold it: argv, order, cache mounts, files, owners,
//! workdir, entrypoint, user and the NLTK builder.

use plinth_airbyte::{self as airbyte, nltk};
use plinth_catalog::Version;
use plinth_catalog::family::Family;
use plinth_oci::Platform;
use plinth_recipe::{DirectorySource, FileSource, Op};

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn recipe(repo: &str, ver: &str) -> Vec<Op> {
    airbyte::catalog()
        .get(repo)
        .unwrap()
        .recipe(&v(ver), &Platform::linux_amd64())
        .unwrap()
        .ops()
        .to_vec()
}

fn execs(ops: &[Op]) -> Vec<Vec<String>> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Exec { argv, .. } => Some(argv.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn python_steps_are_exact() {
    let ops = recipe(airbyte::PYTHON_REPOSITORY, "3.0.0");
    let argv = execs(&ops);
    assert_eq!(
        argv[0],
        [
            "ln",
            "-snf",
            "/usr/share/zoneinfo/Etc/UTC",
            "/etc/localtime"
        ]
    );
    assert_eq!(
        argv[1],
        [
            "adduser",
            "--uid",
            "1000",
            "--system",
            "--group",
            "--no-create-home",
            "airbyte"
        ]
    );
    // NLTK_MKDIR755 reproduced as published, including its relative `755` directory.
    assert_eq!(
        argv.last().unwrap(),
        &["mkdir", "-p", "755", "/usr/share/nltk_data"]
    );
    assert_eq!(
        argv[7],
        [
            "sh",
            "-c",
            "apt-get update && apt-get upgrade -y && apt-get dist-upgrade -y && apt-get clean"
        ]
    );
    assert!(ops.contains(&Op::MountedCache {
        path: "/custom_cache/pip".into(),
        volume: "pip_cache".into(),
        owner: Some("airbyte".into()),
        options: Default::default(),
    }));
    let Some(Op::Directory {
        path,
        source:
            DirectorySource::Container {
                container,
                path: from,
            },
        owner: None,
        mode: None,
    }) = ops.last()
    else {
        panic!("3.0.0 ends with the NLTK directory: {ops:?}")
    };
    assert_eq!(
        (path.as_str(), from.as_str()),
        ("/usr/share/nltk_data", "/usr/share/nltk_data")
    );
    assert_eq!(**container, nltk::nltk_builder());
    let Op::From { source } = &container.ops()[0] else {
        panic!()
    };
    assert_eq!(source.address(), "bash:latest");
    assert_eq!(
        execs(container.ops()),
        [
            vec!["mkdir", "-p", "/usr/share/nltk_data/tokenizers"],
            vec![
                "unzip",
                "-o",
                "/tmp/data.zip",
                "-d",
                "/usr/share/nltk_data/tokenizers"
            ],
            vec!["rm", "/tmp/data.zip"],
            vec!["mkdir", "-p", "/usr/share/nltk_data/taggers"],
            vec![
                "unzip",
                "-o",
                "/tmp/data.zip",
                "-d",
                "/usr/share/nltk_data/taggers"
            ],
            vec!["rm", "/tmp/data.zip"],
        ]
    );
    let urls: Vec<&str> = container
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::File {
                path,
                source: FileSource::Url { url, sha256: None },
                ..
            } if path == "/tmp/data.zip" => Some(url.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(urls, [nltk::PUNKT_URL, nltk::TAGGER_URL]);
    // Nothing sets a user, workdir or entrypoint in the python family.
    for family_version in ["1.0.0", "1.2.2-rc.1", "3.0.1-rc.1", "4.0.0"] {
        let ops = recipe(airbyte::PYTHON_REPOSITORY, family_version);
        assert!(!ops.iter().any(|op| matches!(
            op,
            Op::User { .. } | Op::Workdir { .. } | Op::Entrypoint { .. }
        )));
    }
    // The 2023 prototype's cache volume name; later root caches use `pip_cache`.
    assert!(
        recipe(airbyte::PYTHON_REPOSITORY, "1.0.0").contains(&Op::MountedCache {
            path: "/root/.cache/pip".into(),
            volume: "pip-cache".into(),
            owner: None,
            options: Default::default(),
        })
    );
    assert!(
        recipe(airbyte::PYTHON_REPOSITORY, "2.0.0").contains(&Op::MountedCache {
            path: "/root/.cache/pip".into(),
            volume: "pip_cache".into(),
            owner: None,
            options: Default::default(),
        })
    );
    let tmp = execs(&recipe(airbyte::PYTHON_REPOSITORY, "3.0.1-rc.1"));
    let i = tmp
        .iter()
        .position(|a| a == &["chown", "-R", "airbyte:airbyte", "/tmp"])
        .unwrap();
    assert_eq!(
        tmp[i - 1],
        ["sh", "-c", "apt-get install -y socat=1.7.4.4-2"]
    );
    assert!(tmp[i + 1][2].contains("tesseract-ocr=5.3.0-2"));
    assert!(
        execs(&recipe(airbyte::PYTHON_REPOSITORY, "4.0.0")).contains(&vec![
            "pip".to_owned(),
            "install".into(),
            "poetry==1.8.4".into()
        ])
    );
}

#[test]
fn java_steps_are_exact() {
    let ops = recipe(airbyte::JAVA_REPOSITORY, "2.0.1");
    let argv = execs(&ops);
    assert_eq!(argv.len(), 1);
    assert_eq!(argv[0].len(), 3, "sh_dash_c always gives three arguments");
    assert!(
        argv[0][2]
            .starts_with("set -o xtrace && yum install -y shadow-utils tar openssl findutils && ")
    );
    assert_eq!(
        ops[2],
        Op::Workdir {
            path: "/airbyte".into()
        }
    );
    let files: Vec<(String, String, Option<String>)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::File {
                path,
                source: FileSource::Url { url, sha256: None },
                owner,
                mode: None,
            } => Some((path.clone(), url.clone(), owner.clone())),
            _ => None,
        })
        .collect();
    let pinned = "https://raw.githubusercontent.com/airbytehq/airbyte/6d8a3a2bc4f4ca79f10164447a90fdce5c9ad6f9/airbyte-integrations/bases";
    let owner = Some("airbyte".to_owned());
    assert_eq!(
        files,
        [
            (
                "dd-java-agent.jar".into(),
                "https://dtdg.co/latest-java-tracer".into(),
                owner.clone()
            ),
            (
                "base.sh".into(),
                format!("{pinned}/base/base.sh"),
                owner.clone()
            ),
            (
                "javabase.sh".into(),
                format!("{pinned}/base-java/javabase.sh"),
                owner
            ),
        ]
    );
    assert_eq!(
        ops[ops.len() - 2],
        Op::Entrypoint {
            argv: vec!["/airbyte/base.sh".into()]
        }
    );
    assert_eq!(
        ops[ops.len() - 1],
        Op::User {
            user: "airbyte".into()
        }
    );

    let rc1 = recipe(airbyte::JAVA_REPOSITORY, "1.0.0-rc.1");
    assert_eq!(
        execs(&rc1),
        [
            vec!["yum", "update", "-y", "--security"],
            vec!["yum", "install", "-y", "tar", "openssl", "findutils"]
        ]
    );
    assert!(
        !rc1.iter()
            .any(|op| matches!(op, Op::Entrypoint { .. } | Op::User { .. }))
    );
    assert!(rc1.iter().any(|op| matches!(op, Op::File { source: FileSource::Url { url, .. }, owner: None, .. }
        if url == "https://raw.githubusercontent.com/airbytehq/airbyte/master/airbyte-integrations/bases/base/base.sh")));
    let bundle = execs(&recipe(airbyte::JAVA_REPOSITORY, "1.0.0"));
    assert_eq!(
        bundle,
        [vec![
            "sh",
            "-c",
            "set -o xtrace && yum update -y --security && yum install -y tar openssl findutils && yum clean all"
        ]]
    );
    // The example view is lossy: rc.1 (no entrypoint) and rc.2 render identically.
    let java = airbyte::java_family();
    assert_eq!(
        java.dockerfile_example(&v("1.0.0-rc.1")).unwrap(),
        java.dockerfile_example(&v("1.0.0-rc.2")).unwrap()
    );
}

#[test]
fn nonroot_rc1_is_the_exact_three_argument_exec() {
    let ex = airbyte::java_family()
        .dockerfile_example(&v("2.0.0-rc.1"))
        .unwrap();
    let run = ex.lines().nth(1).unwrap();
    assert_eq!(
        run,
        "RUN sh -c set -o xtrace && yum update -y --security && yum install -y /usr/sbin/adduser tar openssl findutils && \
         yum clean all && adduser --base-dir /airbyte --uid 1000 --user-group --system airbyte && mkdir --mode 755 /airbyte && \
         mkdir --mode 755 /custom_cache && chown -R airbyte:airbyte /airbyte"
    );
    assert_eq!(
        airbyte::steps::sh_dash_c(&["a", "b"]),
        [
            "sh".to_owned(),
            "-c".into(),
            "set -o xtrace && a && b".into()
        ]
    );
}
