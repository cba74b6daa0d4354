//! Numeric ids of the users and groups a recipe creates with explicit ids (`adduser --uid 1000
//! --group airbyte`, `groupadd --gid 1000 airbyte && useradd --uid 1000 --gid airbyte airbyte`),
//! so views that need numbers (`RUN --mount=type=cache,uid=…,gid=…`) know them without being told.
//!
//! Only ids written in the recipe count: a user created without `--uid` gets whatever id the tool
//! picks in the image, which no view can know. Commands are read from exec argv and from
//! `sh -c` scripts split on `&&`, `||`, `;` and `|` (no quoting: a script that needs quotes around
//! these options is not recognised, and its owner still needs explicit ids).

use std::collections::BTreeMap;

use crate::op::Op;

/// Users and groups by name, with the ids the recipe gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeclaredIds {
    users: BTreeMap<String, (u32, Option<u32>)>,
    groups: BTreeMap<String, u32>,
}

impl DeclaredIds {
    /// The ids declared by the exec operations in `ops`.
    pub(crate) fn from_ops<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Self {
        let mut ids = Self::default();
        for op in ops {
            if let Op::Exec { argv, .. } = op {
                ids.read_exec(argv);
            }
        }
        ids
    }

    /// `(uid, gid)` of user `name`, when both are known.
    pub(crate) fn user(&self, name: &str) -> Option<(u32, u32)> {
        let (uid, gid) = self.users.get(name)?;
        Some((*uid, (*gid)?))
    }

    /// The gid of group `name`.
    pub(crate) fn group(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }

    fn read_exec(&mut self, argv: &[String]) {
        if let [shell, flag, script] = argv
            && is_shell(shell)
            && flag == "-c"
        {
            for command in script.split(['&', '|', ';', '\n']) {
                let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
                self.read_command(&words);
            }
        } else {
            self.read_command(argv);
        }
    }

    fn read_command(&mut self, argv: &[String]) {
        let Some((program, args)) = argv.split_first() else {
            return;
        };
        let program = program.rsplit('/').next().unwrap_or(program);
        let options = Options::parse(args);
        let Some(name) = options.name.clone() else {
            return;
        };
        match program {
            "groupadd" | "addgroup" if options.user_id.is_none() => {
                if let Some(gid) = options.group_id.as_deref().and_then(|g| g.parse().ok()) {
                    self.groups.insert(name, gid);
                }
            }
            "adduser" | "useradd" => {
                let Some(uid) = options.user_id.as_deref().and_then(|u| u.parse().ok()) else {
                    return;
                };
                let gid = match options.group_id.as_deref() {
                    Some(g) => g.parse().ok().or_else(|| self.group(g)),
                    // Debian's `adduser --system --group` and `useradd --user-group` make a group
                    // of the user's name; adduser documents it with the user's id, and useradd
                    // takes the uid as gid when it is free, as it is in a recipe that sets both.
                    None if options.own_group => Some(uid),
                    None => None,
                };
                if options.own_group
                    && let Some(gid) = gid
                {
                    self.groups.insert(name.clone(), gid);
                }
                self.users.insert(name, (uid, gid));
            }
            _ => {}
        }
    }
}

fn is_shell(program: &str) -> bool {
    matches!(
        program.rsplit('/').next(),
        Some("sh" | "bash" | "dash" | "ash")
    )
}

/// The options of adduser/useradd/groupadd that decide ids, in their long and short spellings.
#[derive(Default)]
struct Options {
    user_id: Option<String>,
    group_id: Option<String>,
    own_group: bool,
    name: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Self {
        let mut options = Self::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || inline.clone().or_else(|| rest.next().cloned());
            match flag {
                "--uid" | "-u" => options.user_id = value(),
                "--gid" | "-g" | "--ingroup" | "-G" => options.group_id = value(),
                "--group" | "--user-group" | "-U" => options.own_group = true,
                // Options with a value whose value is not a name.
                "--home" | "-d" | "--shell" | "-s" | "--gecos" | "-c" | "--base-dir" | "-b"
                | "--comment" | "--key" | "-K" | "--firstuid" | "--lastuid" | "--firstgid"
                | "--lastgid" | "--expiredate" | "-e" | "--inactive" | "-f" | "--password"
                | "-p" | "--groups" | "--conf" | "--add_extra_groups" | "--extrausers" | "-k"
                | "--skel" | "--root" | "-R" | "--prefix" | "-P" => {
                    value();
                }
                other if other.starts_with('-') => {}
                name => options.name = Some(name.to_owned()),
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(argvs: &[&[&str]]) -> DeclaredIds {
        let ops: Vec<Op> = argvs
            .iter()
            .map(|argv| Op::Exec {
                argv: argv.iter().map(|s| (*s).to_owned()).collect(),
                network: Default::default(),
                env: Default::default(),
                mounts: Vec::new(),
            })
            .collect();
        DeclaredIds::from_ops(&ops)
    }

    #[test]
    fn debian_adduser_with_its_own_group() {
        let ids = ids(&[&[
            "adduser",
            "--uid",
            "1000",
            "--system",
            "--group",
            "--no-create-home",
            "airbyte",
        ]]);
        assert_eq!(ids.user("airbyte"), Some((1000, 1000)));
        assert_eq!(ids.group("airbyte"), Some(1000));
    }

    #[test]
    fn groupadd_then_useradd_in_a_shell_script() {
        let ids = ids(&[&[
            "sh",
            "-c",
            "set -o xtrace && groupadd --gid 1001 app && useradd --uid 1000 --gid app --shell /bin/bash --create-home svc",
        ]]);
        assert_eq!(ids.user("svc"), Some((1000, 1001)));
        assert_eq!(ids.group("app"), Some(1001));
    }

    #[test]
    fn users_without_explicit_ids_are_unknown() {
        let ids = ids(&[
            &["adduser", "--system", "--group", "nobody-knows"],
            &["useradd", "-u", "1200", "halfway"],
            &["useradd", "--uid=1300", "-U", "short"],
        ]);
        assert_eq!(ids.user("nobody-knows"), None);
        assert_eq!(ids.user("halfway"), None, "no gid and no own group");
        assert_eq!(ids.user("short"), Some((1300, 1300)));
    }
}
