//! The step dictionary of the Airbyte recipes: every step of every known version, argv exact.
//!
//! A recipe is `from <root>` followed by a list of [`Step`]s; [`recipe`] applies them in order.
//! The names follow the reference tables (`TZ`, `USERBASE`, `NONROOT`, …).

use plinth_recipe::{Container, DirectorySource, FileOptions, FileSource};

use super::nltk;

/// `base.sh` and `javabase.sh` on the unpinned `master` branch (rc.1 and rc.2 code).
pub const SCRIPTS_MASTER: &str =
    "https://raw.githubusercontent.com/airbytehq/airbyte/master/airbyte-integrations/bases";
/// `base.sh` and `javabase.sh` pinned to a commit (rc.4 code onward).
pub const SCRIPTS_PINNED: &str = "https://raw.githubusercontent.com/airbytehq/airbyte/6d8a3a2bc4f4ca79f10164447a90fdce5c9ad6f9/airbyte-integrations/bases";
/// The Datadog Java agent; never pinned upstream, so Java builds are not reproducible.
pub const DATADOG_AGENT: &str = "https://dtdg.co/latest-java-tracer";

/// The items of `NONROOT_RC1` (java 2.0.0-rc.1), joined by [`sh_dash_c`].
pub const NONROOT_RC1_ITEMS: &[&str] = &[
    "yum update -y --security",
    "yum install -y /usr/sbin/adduser tar openssl findutils",
    "yum clean all",
    "adduser --base-dir /airbyte --uid 1000 --user-group --system airbyte",
    "mkdir --mode 755 /airbyte",
    "mkdir --mode 755 /custom_cache",
    "chown -R airbyte:airbyte /airbyte",
];

/// The items of `NONROOT` (java 2.0.0-rc.2 onward). `shadow-utils` gives groupadd/useradd with
/// fixed ids, `tar` unpacks connector distributions, `openssl` serves ssh/scp, `findutils` gives
/// `xargs`; `yum update` shares the install exec to avoid caching stale package URLs.
pub const NONROOT_ITEMS: &[&str] = &[
    "yum install -y shadow-utils tar openssl findutils",
    "yum update -y --security",
    "yum clean all",
    "rm -rf /var/cache/yum",
    "groupadd --gid 1000 airbyte",
    "useradd --uid 1000 --gid airbyte --shell /bin/bash --create-home airbyte",
    "mkdir /secrets",
    "mkdir /config",
    "mkdir --mode 755 /airbyte",
    "mkdir --mode 755 /custom_cache",
    "chown -R airbyte:airbyte /airbyte",
    "chown -R airbyte:airbyte /custom_cache",
    "chown -R airbyte:airbyte /secrets",
    "chown -R airbyte:airbyte /config",
    "chown -R airbyte:airbyte /usr/share/pki/ca-trust-source",
    "chown -R airbyte:airbyte /etc/pki/ca-trust",
    "chown -R airbyte:airbyte /tmp",
];

/// The Java helper: always exactly three arguments,
/// `["sh", "-c", "set -o xtrace && " + " && ".join(items)]`.
pub fn sh_dash_c<S: AsRef<str>>(items: &[S]) -> [String; 3] {
    let joined = items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(" && ");
    [
        "sh".to_owned(),
        "-c".to_owned(),
        format!("set -o xtrace && {joined}"),
    ]
}

/// One named step of the dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `ln -snf /usr/share/zoneinfo/Etc/UTC /etc/localtime`.
    Tz,
    /// Cache mount `/root/.cache/pip`, volume `pip_cache`.
    CacheRoot,
    /// Cache mount `/root/.cache/pip`, volume `pip-cache` (the 2023 prototype's name).
    CacheRoot2023,
    /// Cache mount `/custom_cache/pip`, volume `pip_cache`, owned by `airbyte`.
    CacheCustom,
    /// `ENV PIP_CACHE_DIR=/custom_cache/pip`.
    PipEnv,
    /// `pip install --upgrade pip==23.2.1`.
    Pip23,
    /// `pip install --upgrade pip==24.0 setuptools==70.0.0`.
    Pip24,
    /// The three poetry env vars.
    PoetryEnv,
    /// `pip install poetry==1.6.1`.
    Poetry161,
    /// `pip install poetry==1.8.4` (inferred).
    Poetry184,
    /// `sh -c "apt update && apt-get install -y socat=1.7.4.4-2"`.
    SocatOld,
    /// `sh -c "apt-get update && apt-get upgrade -y && apt-get dist-upgrade -y && apt-get clean"`.
    Upgrade,
    /// `sh -c "apt-get install -y socat=1.7.4.4-2"`.
    Socat,
    /// `sh -c "apt-get update && apt-get install -y tesseract-ocr=5.3.0-2 poppler-utils=22.12.0-2+b1"`.
    Ocr,
    /// `mkdir /usr/share/nltk_data`.
    NltkMkdir,
    /// `mkdir -p 755 /usr/share/nltk_data`, reproduced as published: it also creates a relative
    /// directory `755` in the workdir (`--mode 755` was meant). Fixing it would change the image
    /// content of published versions and their recorded examples, so the bug is kept on purpose.
    NltkMkdir755,
    /// `/usr/share/nltk_data` from the NLTK builder.
    NltkDir,
    /// `adduser` (uid 1000, system, group, no home), `/custom_cache` and `/airbyte` (755),
    /// `/airbyte` owned by airbyte.
    Userbase,
    /// `chown -R airbyte:airbyte /tmp` (argv inferred by splitting the rendered text on spaces).
    TmpChown,
    /// `yum update -y --security`.
    YumUpd,
    /// `yum install -y tar openssl findutils`.
    YumInst,
    /// The yum calls bundled with `sh_dash_c`.
    YumBundle,
    /// The first non-root setup (java 2.0.0-rc.1).
    NonrootRc1,
    /// The non-root setup (java 2.0.0-rc.2 onward).
    Nonroot,
    /// `workdir /airbyte`.
    Wd,
    /// Datadog agent, `base.sh`, `javabase.sh` from `master`.
    FilesMaster,
    /// The same with the scripts pinned.
    FilesPinned,
    /// The pinned files, owned by `airbyte`.
    FilesOwned,
    /// The six `AIRBYTE_*` env vars.
    Env6,
    /// `entrypoint ["/airbyte/base.sh"]`.
    Ep,
    /// `user airbyte`.
    User,
}

fn sh(command: &str) -> [&str; 3] {
    ["sh", "-c", command]
}

fn java_files(c: Container, scripts: &str, owner: Option<&str>) -> Container {
    let options = || match owner {
        Some(o) => FileOptions::new().owner(o),
        None => FileOptions::new(),
    };
    // Relative paths: they land in the workdir, `/airbyte`.
    c.with_file_opts(
        "dd-java-agent.jar",
        FileSource::url(DATADOG_AGENT),
        options(),
    )
    .with_file_opts(
        "base.sh",
        FileSource::url(format!("{scripts}/base/base.sh")),
        options(),
    )
    .with_file_opts(
        "javabase.sh",
        FileSource::url(format!("{scripts}/base-java/javabase.sh")),
        options(),
    )
}

impl Step {
    /// Appends the step's operations to `c`.
    pub fn apply(self, c: Container) -> Container {
        match self {
            Step::Tz => c.with_exec(["ln", "-snf", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime"]),
            Step::CacheRoot => c.with_mounted_cache("/root/.cache/pip", "pip_cache"),
            Step::CacheRoot2023 => c.with_mounted_cache("/root/.cache/pip", "pip-cache"),
            Step::CacheCustom => c.with_mounted_cache_owned("/custom_cache/pip", "pip_cache", "airbyte"),
            Step::PipEnv => c.with_env("PIP_CACHE_DIR", "/custom_cache/pip"),
            Step::Pip23 => c.with_exec(["pip", "install", "--upgrade", "pip==23.2.1"]),
            Step::Pip24 => c.with_exec(["pip", "install", "--upgrade", "pip==24.0", "setuptools==70.0.0"]),
            Step::PoetryEnv => c
                .with_env("POETRY_VIRTUALENVS_CREATE", "false")
                .with_env("POETRY_VIRTUALENVS_IN_PROJECT", "false")
                .with_env("POETRY_NO_INTERACTION", "1"),
            Step::Poetry161 => c.with_exec(["pip", "install", "poetry==1.6.1"]),
            Step::Poetry184 => c.with_exec(["pip", "install", "poetry==1.8.4"]),
            Step::SocatOld => c.with_exec(sh("apt update && apt-get install -y socat=1.7.4.4-2")),
            Step::Upgrade => c.with_exec(sh(
                "apt-get update && apt-get upgrade -y && apt-get dist-upgrade -y && apt-get clean",
            )),
            Step::Socat => c.with_exec(sh("apt-get install -y socat=1.7.4.4-2")),
            Step::Ocr => c.with_exec(sh(
                "apt-get update && apt-get install -y tesseract-ocr=5.3.0-2 poppler-utils=22.12.0-2+b1",
            )),
            Step::NltkMkdir => c.with_exec(["mkdir", "/usr/share/nltk_data"]),
            Step::NltkMkdir755 => c.with_exec(["mkdir", "-p", "755", "/usr/share/nltk_data"]),
            Step::NltkDir => c.with_directory(
                nltk::NLTK_DATA_DIR,
                DirectorySource::container(&nltk::nltk_builder(), nltk::NLTK_DATA_DIR),
            ),
            Step::Userbase => c
                .with_exec(["adduser", "--uid", "1000", "--system", "--group", "--no-create-home", "airbyte"])
                .with_exec(["mkdir", "--mode", "755", "/custom_cache"])
                .with_exec(["mkdir", "--mode", "755", "/airbyte"])
                .with_exec(["chown", "airbyte:airbyte", "/airbyte"]),
            Step::TmpChown => c.with_exec(["chown", "-R", "airbyte:airbyte", "/tmp"]),
            Step::YumUpd => c.with_exec(["yum", "update", "-y", "--security"]),
            Step::YumInst => c.with_exec(["yum", "install", "-y", "tar", "openssl", "findutils"]),
            Step::YumBundle => {
                c.with_exec(sh_dash_c(&["yum update -y --security", "yum install -y tar openssl findutils", "yum clean all"]))
            }
            Step::NonrootRc1 => c.with_exec(sh_dash_c(NONROOT_RC1_ITEMS)),
            Step::Nonroot => c.with_exec(sh_dash_c(NONROOT_ITEMS)),
            Step::Wd => c.with_workdir("/airbyte"),
            Step::FilesMaster => java_files(c, SCRIPTS_MASTER, None),
            Step::FilesPinned => java_files(c, SCRIPTS_PINNED, None),
            Step::FilesOwned => java_files(c, SCRIPTS_PINNED, Some("airbyte")),
            Step::Env6 => {
                let mut c = c;
                for cmd in ["spec", "check", "discover", "read", "write"] {
                    c = c.with_env(format!("AIRBYTE_{}_CMD", cmd.to_uppercase()), format!("/airbyte/javabase.sh --{cmd}"));
                }
                c.with_env("AIRBYTE_ENTRYPOINT", "/airbyte/base.sh")
            }
            Step::Ep => c.with_entrypoint(["/airbyte/base.sh"]),
            Step::User => c.with_user("airbyte"),
        }
    }
}

/// `from root`, then `steps` in order.
pub fn recipe(root: &str, steps: &[Step]) -> plinth_recipe::Result<Container> {
    Ok(steps
        .iter()
        .fold(Container::from_address(root)?, |c, step| step.apply(c)))
}
