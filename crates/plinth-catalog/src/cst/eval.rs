//! Evaluation of container-structure-test tests.

use plinth_oci::ImageConfig;
use plinth_oci::config::{RuntimeConfig, split_env};
use regex::Regex;

use super::expand::{expand, expand_env};
use super::{CommandTest, FileContentTest, FileExistenceTest, MetadataPair, MetadataTest};
use crate::checks::{CheckSession, Verdict};
use crate::checks::{CommandSpec, FileContents, RunnerError};

fn matches(pattern: &str, text: &str) -> Result<bool, Verdict> {
    // Patterns were validated when the file was parsed; a check built by hand may still hold a bad one.
    Regex::new(pattern)
        .map(|re| re.is_match(text))
        .map_err(|e| Verdict::Error(format!("`{pattern}` is not a valid regex: {e}")))
}

fn verdict(errors: Vec<String>) -> Result<(), Verdict> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Verdict::Fail(errors.join("\n")))
    }
}

/// The environment a container of the image starts with, for `$VAR` expansion: the image's
/// `Env`, plus docker's default `PATH` when the image sets none (images made by umoci or
/// `FROM scratch` often do not), as docker gives it to the container and as plinth's sandbox
/// gives it to the command.
fn image_env(s: &CheckSession<'_>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = s
        .runner()
        .image_config()
        .and_then(|c| c.config.as_ref())
        .and_then(|r| r.env.as_ref())
        .map(|env| env.iter().map(|kv| split_env(kv)).collect())
        .unwrap_or_default();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), plinth_recipe::reader::DEFAULT_PATH.into()));
    }
    env
}

fn lookup<'e>(env: &'e [(String, String)]) -> impl Fn(&str) -> Option<String> + 'e {
    |key| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

pub(crate) fn evaluate_command(
    test: &CommandTest,
    s: &mut CheckSession<'_>,
) -> Result<(), Verdict> {
    // `globalEnvVars` then the test's `envVars`, each expanded against the image's environment
    // and the variables before it; the command and its arguments against all of them.
    let base = image_env(s);
    let vars: Vec<(String, String)> = test
        .env_vars
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let vars = expand_env(&base, &vars);
    let with_env = |argv: &[String]| {
        let mut spec = CommandSpec::new(argv.iter().cloned());
        spec.env = vars.clone();
        spec
    };
    for argv in &test.setup {
        let out = s.run(with_env(argv))?;
        if !out.success() {
            return Err(Verdict::Error(format!(
                "setup command `{}` failed with exit code {}: {}",
                argv.join(" "),
                out.exit_code,
                out.stderr.trim()
            )));
        }
    }
    let visible: Vec<(String, String)> = base.iter().chain(&vars).cloned().collect();
    let argv: Vec<String> = std::iter::once(&test.command)
        .chain(&test.args)
        .map(|word| expand(word, lookup(&visible)))
        .collect();
    let out = s.run(with_env(&argv))?;
    let mut errors = Vec::new();
    if out.exit_code != test.exit_code {
        errors.push(format!(
            "Test '{}' exited with incorrect error code. Expected: {}, Actual: {}",
            test.name, test.exit_code, out.exit_code
        ));
    }
    // container-structure-test's wording, which the original's reports carried.
    let streams = [
        (&test.expected_output, &out.stdout, "output", true),
        (&test.excluded_output, &out.stdout, "output", false),
        (&test.expected_error, &out.stderr, "error", true),
        (&test.excluded_error, &out.stderr, "error", false),
    ];
    for (patterns, text, stream, wanted) in streams {
        for p in patterns {
            if matches(p, text)? != wanted {
                errors.push(if wanted {
                    format!("Expected string '{p}' not found in {stream} '{text}'")
                } else {
                    format!("Excluded string '{p}' found in {stream} '{text}'")
                });
            }
        }
    }
    for argv in &test.teardown {
        let out = s.run(with_env(argv))?;
        if !out.success() {
            errors.push(format!(
                "teardown command `{}` failed with exit code {}: {}",
                argv.join(" "),
                out.exit_code,
                out.stderr.trim()
            ));
        }
    }
    verdict(errors)
}

fn runner_error(what: &str, path: &str, error: &RunnerError) -> Verdict {
    let text = plinth_oci::error_chain(error.as_ref());
    Verdict::Error(format!("could not {what} `{path}` in the image: {text}"))
}

pub(crate) fn evaluate_file_existence(
    test: &FileExistenceTest,
    s: &mut CheckSession<'_>,
) -> Result<(), Verdict> {
    // As container-structure-test: the path is expanded with the image's environment and looked
    // up in the image's filesystem (no command runs), a final symlink not followed.
    let env = image_env(s);
    let path = expand(&test.path, lookup(&env));
    let shown = test.path.as_str();
    let stat = s
        .runner()
        .stat_file(&path)
        .map_err(|e| runner_error("look up", &path, &e))?;
    let stat = match (stat, test.should_exist) {
        (None, true) => {
            return Err(Verdict::Fail(format!(
                "File {shown} should exist but does not"
            )));
        }
        (Some(_), false) => {
            return Err(Verdict::Fail(format!(
                "File {shown} should not exist but does"
            )));
        }
        (None, false) => return Ok(()),
        (Some(stat), true) => stat,
    };
    let mut errors = Vec::new();
    let actual = go_file_mode(stat.mode);
    if let Some(expected) = &test.permissions
        && &actual != expected
    {
        errors.push(format!(
            "{shown} has incorrect permissions. Expected: {expected}, Actual: {actual}"
        ));
    }
    if let Some(by) = &test.is_executable_by {
        let bits = match by.as_str() {
            "owner" => 0o100,
            "group" => 0o010,
            "other" => 0o001,
            _ => 0o111,
        };
        if stat.mode & bits == 0 {
            errors.push(format!(
                "{shown} has incorrect executable bit. Expected to be executable by {by}, Actual: {actual}"
            ));
        }
    }
    if let Some(expected) = test.uid
        && expected != stat.uid
    {
        errors.push(format!(
            "{shown} has incorrect user ownership. Expected: {expected}, Actual: {}",
            stat.uid
        ));
    }
    if let Some(expected) = test.gid
        && expected != stat.gid
    {
        errors.push(format!(
            "{shown} has incorrect group ownership. Expected: {expected}, Actual: {}",
            stat.gid
        ));
    }
    verdict(errors)
}

pub(crate) fn evaluate_file_content(
    test: &FileContentTest,
    s: &mut CheckSession<'_>,
) -> Result<(), Verdict> {
    let path = test.path.as_str();
    let contents = s
        .runner()
        .read_file(path)
        .map_err(|e| runner_error("read", path, &e))?;
    let problem = match contents {
        FileContents::Bytes(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut errors = Vec::new();
            for p in &test.expected_contents {
                if !matches(p, &text)? {
                    errors.push(format!(
                        "Expected string '{p}' not found in file content string '{text}'"
                    ));
                }
            }
            for p in &test.excluded_contents {
                if matches(p, &text)? {
                    errors.push(format!(
                        "Excluded string '{p}' found in file content string '{text}'"
                    ));
                }
            }
            return verdict(errors);
        }
        FileContents::Missing => format!("File {path} not found in image"),
        FileContents::Directory => {
            format!("Cannot read specified path: {path} is a directory, not a file")
        }
        FileContents::Special => {
            format!("Cannot read specified path: {path} is not a regular file")
        }
    };
    Err(Verdict::Fail(format!(
        "Failed to open {path}. Error: {problem}"
    )))
}

fn port_key(port: &str) -> String {
    if port.contains('/') {
        port.to_owned()
    } else {
        format!("{port}/tcp")
    }
}

pub(crate) fn evaluate_metadata(
    test: &MetadataTest,
    config: Option<&ImageConfig>,
) -> Result<(), Verdict> {
    let Some(config) = config else {
        return Err(Verdict::Error(
            "a metadata test needs the image config, and the check runner provided none".to_owned(),
        ));
    };
    let runtime = config.config.clone().unwrap_or_default();
    let mut errors = Vec::new();
    compare_env_and_labels(test, &runtime, &mut errors)?;
    compare_process(test, &runtime, &mut errors);
    compare_ports_and_volumes(test, &runtime, &mut errors);
    verdict(errors)
}

/// One expected env var or label against the image's value (literal or a regex).
fn compare_pair(
    what: &str,
    pair: &MetadataPair,
    actual: Option<&str>,
    errors: &mut Vec<String>,
) -> Result<(), Verdict> {
    match actual {
        None => errors.push(format!("{what} {} not found in image metadata", pair.key)),
        Some(actual) => {
            let ok = if pair.is_regex {
                matches(&pair.value, actual)?
            } else {
                actual == pair.value
            };
            if !ok {
                errors.push(format!(
                    "{what} {} value {actual} does not match expected value: {}",
                    pair.key, pair.value
                ));
            }
        }
    }
    Ok(())
}

/// `envVars` (the last definition of a name wins) and `labels`.
fn compare_env_and_labels(
    test: &MetadataTest,
    runtime: &RuntimeConfig,
    errors: &mut Vec<String>,
) -> Result<(), Verdict> {
    let env: Vec<(String, String)> = runtime
        .env
        .iter()
        .flatten()
        .map(|kv| split_env(kv))
        .collect();
    for pair in &test.env_vars {
        let actual = env
            .iter()
            .rev()
            .find(|(k, _)| *k == pair.key)
            .map(|(_, v)| v.as_str());
        compare_pair("env var", pair, actual, errors)?;
    }
    for pair in &test.labels {
        let actual = runtime
            .labels
            .as_ref()
            .and_then(|l| l.get(&pair.key))
            .map(String::as_str);
        compare_pair("label", pair, actual, errors)?;
    }
    Ok(())
}

/// `entrypoint`, `cmd`, `workdir` and `user`, each only when the test gives it.
fn compare_process(test: &MetadataTest, runtime: &RuntimeConfig, errors: &mut Vec<String>) {
    let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
    if let Some(expected) = &test.entrypoint
        && *expected != list(&runtime.entrypoint)
    {
        errors.push(format!(
            "Image entrypoint {:?} does not match expected entrypoint: {expected:?}",
            list(&runtime.entrypoint)
        ));
    }
    if let Some(expected) = &test.cmd
        && *expected != list(&runtime.cmd)
    {
        errors.push(format!(
            "Image cmd {:?} does not match expected cmd: {expected:?}",
            list(&runtime.cmd)
        ));
    }
    if let Some(expected) = &test.workdir {
        let actual = runtime.working_dir.clone().unwrap_or_default();
        if actual != *expected {
            errors.push(format!(
                "Image workdir {actual} does not match config workdir: {expected}"
            ));
        }
    }
    if let Some(expected) = &test.user {
        let actual = runtime.user.clone().unwrap_or_default();
        if actual != *expected {
            errors.push(format!(
                "Image user {actual} does not match config user: {expected}"
            ));
        }
    }
}

/// `exposedPorts`/`unexposedPorts` (a bare number means `/tcp`) and
/// `volumes`/`unmountedVolumes`.
fn compare_ports_and_volumes(
    test: &MetadataTest,
    runtime: &RuntimeConfig,
    errors: &mut Vec<String>,
) {
    let ports: Vec<String> = runtime
        .exposed_ports
        .iter()
        .flatten()
        .map(|(k, _)| port_key(k))
        .collect();
    for port in &test.exposed_ports {
        if !ports.contains(&port_key(port)) {
            errors.push(format!("Port {port} not found in config"));
        }
    }
    for port in &test.unexposed_ports {
        if ports.contains(&port_key(port)) {
            errors.push(format!("Port {port} should not be exposed"));
        }
    }
    let volumes: Vec<&String> = runtime.volumes.iter().flatten().map(|(k, _)| k).collect();
    for volume in &test.volumes {
        if !volumes.contains(&volume) {
            errors.push(format!("Volume {volume} not found in config"));
        }
    }
    for volume in &test.unmounted_volumes {
        if volumes.contains(&volume) {
            errors.push(format!("Volume {volume} should not be declared"));
        }
    }
}

/// Go's `os.FileMode.String()` for a raw Unix `st_mode` (as `stat -c %f` prints it in hex):
/// the type and special letters of `dalTLDpSugct?` that apply, or `-`, then `rwxrwxrwx`.
///
/// ```
/// use plinth_catalog::cst::go_file_mode;
/// assert_eq!(go_file_mode(0o100644), "-rw-r--r--");
/// assert_eq!(go_file_mode(0o041777), "dtrwxrwxrwx");
/// assert_eq!(go_file_mode(0o104755), "urwxr-xr-x");
/// ```
pub fn go_file_mode(raw: u32) -> String {
    let mut letters = String::new();
    let kind = raw & 0o170000;
    // In Go's order: d a l T L D p S u g c t ?; plinth never sees a, l, T (Plan 9 only).
    if kind == 0o040000 {
        letters.push('d');
    }
    if kind == 0o120000 {
        letters.push('L');
    }
    if kind == 0o060000 || kind == 0o020000 {
        letters.push('D');
    }
    if kind == 0o010000 {
        letters.push('p');
    }
    if kind == 0o140000 {
        letters.push('S');
    }
    if raw & 0o4000 != 0 {
        letters.push('u');
    }
    if raw & 0o2000 != 0 {
        letters.push('g');
    }
    if kind == 0o020000 {
        letters.push('c');
    }
    if raw & 0o1000 != 0 {
        letters.push('t');
    }
    if letters.is_empty() {
        letters.push('-');
    }
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        letters.push(if raw & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    letters
}

#[cfg(test)]
mod tests {
    use super::go_file_mode;

    #[test]
    fn go_file_modes() {
        assert_eq!(go_file_mode(0o100755), "-rwxr-xr-x");
        assert_eq!(go_file_mode(0o040755), "drwxr-xr-x");
        assert_eq!(go_file_mode(0o120777), "Lrwxrwxrwx");
        assert_eq!(go_file_mode(0o020666), "Dcrw-rw-rw-");
        assert_eq!(go_file_mode(0o060660), "Drw-rw----");
        assert_eq!(go_file_mode(0o010644), "prw-r--r--");
        assert_eq!(go_file_mode(0o140755), "Srwxr-xr-x");
        assert_eq!(go_file_mode(0o102755), "grwxr-xr-x");
        assert_eq!(go_file_mode(0o100000), "----------");
    }
}
