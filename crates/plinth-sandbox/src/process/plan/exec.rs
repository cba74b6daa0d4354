//! The last step of the plan: the command, found on `PATH` and laid out as the C arrays
//! `execve` takes, built here because the child may not allocate.

use std::ffi::{CString, c_char};

use super::{Action, Steps, cstring};
use crate::error::Result;
use crate::spec::{DEFAULT_PATH, RunSpec};
use crate::user::ResolvedUser;

/// The command to execute, with argv and envp laid out as C arrays.
#[derive(Debug)]
pub(crate) struct ExecPlan {
    /// Paths to try in order (argv\[0\] looked up in `PATH`).
    pub(crate) candidates: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    pub(crate) argv_ptrs: Vec<*const c_char>,
    pub(crate) envp_ptrs: Vec<*const c_char>,
}

impl ExecPlan {
    fn new(candidates: Vec<CString>, argv: Vec<CString>, envp: Vec<CString>) -> Self {
        // The pointers point into the CStrings' heap buffers, which do not move when the
        // vectors holding them are moved into this struct.
        let argv_ptrs = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let envp_ptrs = envp
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        ExecPlan {
            candidates,
            _argv: argv,
            _envp: envp,
            argv_ptrs,
            envp_ptrs,
        }
    }
}

/// The environment the command gets (the spec's, with `PATH` and `HOME` filled in as docker
/// does) and the paths to try for argv\[0\], in `PATH` order when it has no `/`.
pub(super) fn env_and_candidates(
    spec: &RunSpec,
    user: &ResolvedUser,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = spec.env.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), user.home.clone()));
    }
    let program = &spec.argv[0];
    let candidates = if program.contains('/') {
        vec![program.clone()]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    (env, candidates)
}

/// Appends the `execve` of the spec's command.
pub(super) fn push_exec(steps: &mut Steps, spec: &RunSpec, user: &ResolvedUser) -> Result<()> {
    let (env, candidates) = env_and_candidates(spec, user);
    let candidates = candidates
        .iter()
        .map(|c| cstring(c.as_bytes(), "command path"))
        .collect::<Result<_>>()?;
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "argument"))
        .collect::<Result<_>>()?;
    let envp = env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}").as_bytes(), "environment"))
        .collect::<Result<_>>()?;
    steps.push(
        Action::Exec(ExecPlan::new(candidates, argv, envp)),
        format!("execute `{}`", spec.argv[0]),
    );
    Ok(())
}
