//! The rules of the operation model ([`Container::validate`]): every problem of every step, and
//! of the helper containers steps copy or mount from, each named by its step.

use super::Container;
use crate::chmod::FileMode;
use crate::op::{DirectorySource, FileSource, Op};
use crate::run_mount::RunMount;
use crate::state::Step;

/// Appends the problems of `container` to `problems`, each prefixed with `prefix` and its step.
pub(super) fn validate_into(container: &Container, prefix: &str, problems: &mut Vec<String>) {
    for step in container.steps() {
        let number = step.index + 1;
        let here = format!("{prefix}step #{number} ({}): ", step.op.kind_name());
        let mut own: Vec<String> = nul_problems(step.op).collect();
        own.extend(op_problems(&step));
        problems.extend(own.into_iter().map(|p| format!("{here}{p}")));
        // A helper's problems follow the step's own, named by their place in the helper.
        for (role, helper) in step.op.helpers() {
            let prefix = format!("{prefix}{} of step #{number}: ", role.noun());
            validate_into(helper, &prefix, problems);
        }
        // A directory's owner and mode come last, after its helper's problems.
        if let Op::Directory { owner, mode, .. } = step.op {
            let mut late = Vec::new();
            check_mode_owner(mode.as_ref(), owner.as_deref(), &mut |p| late.push(p));
            problems.extend(late.into_iter().map(|p| format!("{here}{p}")));
        }
    }
}

/// The texts of `op` that hold a NUL byte, which no image field can hold.
fn nul_problems(op: &Op) -> impl Iterator<Item = String> + '_ {
    strings_of(op)
        .into_iter()
        .filter(|text| text.contains('\0'))
        .map(|text| {
            format!(
                "`{}` contains a NUL byte, which no image field can hold",
                text.escape_debug()
            )
        })
}

/// The problems of one step's own fields (not its helpers', not a directory's owner and mode).
fn op_problems(step: &Step<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |msg: String| problems.push(msg);
    match step.op {
        Op::From { .. } | Op::Entrypoint { .. } | Op::DefaultArgs { .. } => {}
        Op::Exec { argv, mounts, .. } => {
            if argv.first().is_none_or(String::is_empty) {
                bad("the command is empty: give at least the program to run".into());
            }
            mounts
                .iter()
                .flat_map(RunMount::problems)
                .for_each(&mut bad);
        }
        Op::Env { name, .. } => {
            if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
                bad(format!(
                    "`{}` is not an env var name: it must be non-empty, without `=` or whitespace",
                    name.escape_debug()
                ));
            }
        }
        Op::Label { name, .. } => {
            if name.is_empty() || name.contains('=') {
                bad(format!(
                    "`{}` is not a label key: it must be non-empty, without `=`",
                    name.escape_debug()
                ));
            }
        }
        Op::User { user } => check_owner(user, "user", &mut bad),
        Op::Workdir { path } => {
            if path.is_empty() {
                bad("the workdir is empty".into());
            }
        }
        Op::File {
            path,
            source,
            owner,
            mode,
        } => file_problems(path, source, &mut bad, (mode.as_ref(), owner.as_deref())),
        Op::Directory { path, source, .. } => {
            if path.is_empty() {
                bad("the destination directory is empty: use `/` for the root".into());
            }
            if let DirectorySource::Container { path: src, .. } = source
                && !src.starts_with('/')
            {
                bad(format!(
                    "the helper container path `{src}` must be absolute"
                ));
            }
        }
        Op::MountedCache {
            path,
            volume,
            owner,
            options,
        } => {
            cache_problems(path, volume, owner.as_deref(), &mut bad);
            if let Some(seed) = &options.seed
                && !seed.path.starts_with('/')
            {
                bad(format!(
                    "the cache seed path `{}` must be absolute",
                    seed.path
                ));
            }
        }
        Op::UnmountCache { path } => {
            let target = crate::state::normalize_path(path);
            if !step.state.caches().iter().any(|c| c.path == target) {
                bad(format!("no cache is mounted at `{path}`"));
            }
        }
        Op::Config { setting } => {
            if let Some(problem) = setting.problem() {
                bad(problem);
            }
        }
        Op::History { created_by, .. } => {
            if created_by.trim().is_empty() {
                bad("the history entry is empty: give the instruction's text".into());
            }
        }
    }
    problems
}

fn file_problems(
    path: &str,
    source: &FileSource,
    bad: &mut impl FnMut(String),
    (mode, owner): (Option<&FileMode>, Option<&str>),
) {
    if path.is_empty() || path.ends_with('/') {
        bad(format!(
            "`{path}` is not a file path: give the file's full path, not a directory"
        ));
    }
    if let FileSource::Url { url, .. } = source
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        bad(format!("`{url}` is not an http:// or https:// URL"));
    }
    check_mode_owner(mode, owner, bad);
}

fn cache_problems(path: &str, volume: &str, owner: Option<&str>, bad: &mut impl FnMut(String)) {
    if !path.starts_with('/') {
        bad(format!("the cache mount point `{path}` must be absolute"));
    }
    if volume.is_empty()
        || volume
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == '"')
    {
        bad(format!(
            "`{volume}` is not a volume name: non-empty, without whitespace, `,` or `\"`"
        ));
    }
    if let Some(o) = owner {
        check_owner(o, "owner", bad);
    }
}

fn check_mode_owner(mode: Option<&FileMode>, owner: Option<&str>, bad: &mut impl FnMut(String)) {
    if let Some(m) = mode.and_then(FileMode::octal)
        && m > 0o7777
    {
        bad(format!("mode {m:o} has bits beyond 0o7777"));
    }
    if let Some(o) = owner {
        check_owner(o, "owner", bad);
    }
}

fn check_owner(spec: &str, what: &str, bad: &mut impl FnMut(String)) {
    let ok = !spec.is_empty()
        && spec.split(':').count() <= 2
        && spec.split(':').all(|p| !p.is_empty())
        && !spec.chars().any(|c| {
            c.is_whitespace() || c == ',' || c == '"' || c == '\'' || c == '$' || c == '\\'
        });
    if !ok {
        bad(format!(
            "`{}` is not a valid {what}: write `name`, `uid`, `name:group` or `uid:gid`",
            spec.escape_debug()
        ));
    }
}

fn strings_of(op: &Op) -> Vec<&str> {
    match op {
        Op::From { .. } => vec![],
        Op::Exec { argv, .. } | Op::Entrypoint { argv } | Op::DefaultArgs { argv } => {
            argv.iter().map(String::as_str).collect()
        }
        Op::Env { name, value } | Op::Label { name, value } => vec![name, value],
        Op::User { user }
        | Op::History {
            created_by: user, ..
        } => vec![user],
        Op::Config { setting } => setting.strings(),
        Op::Workdir { path } | Op::UnmountCache { path } => vec![path],
        Op::File {
            path,
            source,
            owner,
            ..
        } => {
            let mut v = vec![path.as_str()];
            v.extend(owner.as_deref());
            if let FileSource::Url { url, .. } = source {
                v.push(url);
            }
            v
        }
        Op::Directory { path, owner, .. } => std::iter::once(path.as_str())
            .chain(owner.as_deref())
            .collect(),
        Op::MountedCache {
            path,
            volume,
            owner,
            options,
        } => [path.as_str(), volume]
            .into_iter()
            .chain(options.seed.as_ref().map(|seed| seed.path.as_str()))
            .chain(owner.as_deref())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Container;
    use crate::error::Error;
    use crate::op::{DirectorySource, FileOptions, FileSource};

    #[test]
    fn validate_lists_every_problem() {
        let helper = Container::new().with_exec(Vec::<String>::new());
        let c = Container::new()
            .with_exec([""])
            .with_env("A B", "x")
            .with_mounted_cache("rel", "v v")
            .without_mounted_cache("/nothing")
            .with_file("/dir/", FileSource::url("ftp://x"))
            .with_file_opts(
                "/f",
                FileSource::Bytes(vec![]),
                FileOptions::new().owner("a b").mode(0o10000),
            )
            .with_directory("/d", DirectorySource::container(&helper, "rel"))
            .with_user("a\0");
        let err = c.validate().unwrap_err();
        let Error::InvalidRecipe { problems } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 12, "{err}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("helper container of step #7: step #1 (exec)")),
            "{err}"
        );
        assert!(
            Container::from_address("busybox")
                .unwrap()
                .with_exec(["true"])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn problems_come_in_step_order_with_a_directory_owner_after_its_helper() {
        let helper = Container::new().with_exec(Vec::<String>::new());
        let c = Container::new()
            .with_env("A=B", "x")
            .with_directory_opts(
                "/d",
                DirectorySource::container(&helper, "rel"),
                FileOptions::new().mode(0o10000),
            )
            .with_workdir("");
        let Err(Error::InvalidRecipe { problems }) = c.validate() else {
            panic!("the recipe should be refused")
        };
        assert_eq!(
            problems,
            [
                "step #1 (env): `A=B` is not an env var name: it must be non-empty, without `=` or whitespace",
                "step #2 (directory): the helper container path `rel` must be absolute",
                "helper container of step #2: step #1 (exec): the command is empty: give at least the program to run",
                "step #2 (directory): mode 10000 has bits beyond 0o7777",
                "step #3 (workdir): the workdir is empty",
            ]
        );
    }
}
