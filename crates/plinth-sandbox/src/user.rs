//! Resolving a [`UserSpec`] against the rootfs's `/etc/passwd` and `/etc/group`, with the
//! semantics of `docker run --user` (runc's `GetExecUser`).

use crate::error::{Error, Result};
use crate::spec::{IdOrName, UserSpec};

/// Numeric identity the command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Supplementary groups (see [`SupplementaryGroups`]).
    pub groups: Vec<u32>,
    /// The home directory, for `HOME` when the spec does not set it.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3]
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect(),
        })
    })
}

fn lookup_group(group_text: &str, group: &IdOrName) -> Result<u32> {
    match group {
        IdOrName::Id(gid) => Ok(*gid),
        IdOrName::Name(name) => group_entries(group_text)
            .find(|g| g.name == name)
            .map(|g| g.gid)
            .ok_or_else(|| Error::GroupNotFound {
                group: name.clone(),
            }),
    }
}

/// Which supplementary groups a resolved user gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SupplementaryGroups {
    /// `docker run`'s: the primary group, the groups listing the user as a member, the extra
    /// ones.
    #[default]
    DockerRun,
    /// BuildKit's for a `RUN` step: the groups listing the user as a member when the user is
    /// named by name (none for a numeric user, none for the primary group unless it lists
    /// the user), then the extra ones.
    BuildKit,
}

/// Resolve `spec` plus `extra_groups` against the text of `/etc/passwd` and `/etc/group`
/// (empty when the rootfs has none), with `docker run`'s supplementary groups.
pub fn resolve_user(
    spec: &UserSpec,
    extra_groups: &[IdOrName],
    passwd_text: &str,
    group_text: &str,
) -> Result<ResolvedUser> {
    resolve_user_with(
        spec,
        extra_groups,
        (passwd_text, group_text),
        SupplementaryGroups::DockerRun,
    )
}

/// [`resolve_user`] with the supplementary groups `rule` gives.
pub fn resolve_user_with(
    spec: &UserSpec,
    extra_groups: &[IdOrName],
    (passwd_text, group_text): (&str, &str),
    rule: SupplementaryGroups,
) -> Result<ResolvedUser> {
    let entry = match spec.user() {
        IdOrName::Id(uid) => passwd_entries(passwd_text).find(|e| e.uid == *uid),
        IdOrName::Name(name) => Some(
            passwd_entries(passwd_text)
                .find(|e| e.name == name)
                .ok_or_else(|| Error::UserNotFound { user: name.clone() })?,
        ),
    };
    let uid = match (spec.user(), &entry) {
        (_, Some(e)) => e.uid,
        (IdOrName::Id(uid), None) => *uid,
        (IdOrName::Name(_), None) => unreachable!("a name without entry returned early"),
    };
    let mut gid = entry.as_ref().map_or(0, |e| e.gid);
    let mut groups = Vec::new();
    match spec.group() {
        Some(group) => {
            gid = lookup_group(group_text, group)?;
        }
        None => {
            let named = matches!(spec.user(), IdOrName::Name(_));
            if let Some(e) = entry
                .as_ref()
                .filter(|_| named || rule == SupplementaryGroups::DockerRun)
            {
                groups.extend(
                    group_entries(group_text)
                        .filter(|g| g.members.contains(&e.name))
                        .map(|g| g.gid),
                );
            }
        }
    }
    for group in extra_groups {
        groups.push(lookup_group(group_text, group)?);
    }
    if rule == SupplementaryGroups::DockerRun && !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    let mut seen = std::collections::BTreeSet::new();
    groups.retain(|g| seen.insert(*g));
    let home = entry
        .as_ref()
        .map_or("/", |e| if e.home.is_empty() { "/" } else { e.home })
        .to_owned();
    Ok(ResolvedUser {
        uid,
        gid,
        groups,
        home,
    })
}

/// The owner BuildKit's file operations give files for an owner spec (`COPY --chown`, the
/// directory of a `WORKDIR`): a name takes its `/etc/passwd` uid and group, a number is both
/// uid and gid, a group after `:` replaces the gid. Unlike a process's user, a name the image
/// does not know is not an error: it gives 0 (and a group name it does not know keeps the gid
/// so far), as BuildKit's `readUser` does. Returns the names not found, for a warning.
pub fn resolve_file_owner(
    spec: &UserSpec,
    passwd_text: &str,
    group_text: &str,
) -> ((u32, u32), Vec<String>) {
    let mut missing = Vec::new();
    let (uid, mut gid) = match spec.user() {
        IdOrName::Id(uid) => (*uid, *uid),
        IdOrName::Name(name) => match passwd_entries(passwd_text).find(|e| e.name == name) {
            Some(e) => (e.uid, e.gid),
            None => {
                missing.push(name.clone());
                (0, 0)
            }
        },
    };
    match spec.group() {
        Some(IdOrName::Id(id)) => gid = *id,
        Some(IdOrName::Name(name)) => match group_entries(group_text).find(|g| g.name == name) {
            Some(g) => gid = g.gid,
            None => missing.push(name.clone()),
        },
        None => {}
    }
    ((uid, gid), missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_owners_resolve_as_buildkit_resolves_them() {
        for (owner, expected, missing) in [
            ("airbyte", (1000, 1000), &[][..]),
            ("1500", (1500, 1500), &[]),
            ("0:1000", (0, 1000), &[]),
            ("airbyte:wheel", (1000, 10), &[]),
            ("nobody", (0, 0), &["nobody"]),
            ("airbyte:nogroup", (1000, 1000), &["nogroup"]),
            ("ghost:wheel", (0, 10), &["ghost"]),
        ] {
            let (ids, not_found) = resolve_file_owner(&spec(owner), PASSWD, GROUP);
            assert_eq!(ids, expected, "{owner}");
            assert_eq!(not_found, missing, "{owner}");
        }
        assert_eq!(
            resolve_file_owner(&spec("airbyte"), "", ""),
            ((0, 0), vec!["airbyte".to_owned()]),
            "an image without /etc/passwd"
        );
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\nairbyte:x:1000:1000::/home/airbyte:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:root,airbyte\nairbyte:x:1000:\ndocker:x:999:airbyte\n";

    fn spec(s: &str) -> UserSpec {
        s.parse().unwrap()
    }

    #[test]
    fn by_name_gets_gid_home_and_member_groups() {
        let u = resolve_user(&spec("airbyte"), &[], PASSWD, GROUP).unwrap();
        assert_eq!(
            u,
            ResolvedUser {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 10, 999],
                home: "/home/airbyte".into()
            }
        );
    }

    #[test]
    fn numeric_uid_without_entry_defaults_to_gid_0_and_slash() {
        let u = resolve_user(&spec("4242"), &[], PASSWD, GROUP).unwrap();
        assert_eq!(
            u,
            ResolvedUser {
                uid: 4242,
                gid: 0,
                groups: vec![0],
                home: "/".into()
            }
        );
    }

    #[test]
    fn numeric_uid_with_entry_uses_it() {
        let u = resolve_user(&spec("0"), &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.groups, vec![0, 10]);
    }

    #[test]
    fn explicit_group_replaces_memberships() {
        let u = resolve_user(&spec("airbyte:wheel"), &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert_eq!(u.groups, vec![10]);
        let u = resolve_user(
            &spec("1000:77"),
            &[IdOrName::Name("docker".into())],
            PASSWD,
            GROUP,
        )
        .unwrap();
        assert_eq!(u.groups, vec![77, 999]);
    }

    #[test]
    fn buildkit_lists_memberships_of_a_named_user_only() {
        let build = |s: &str, extra: &[IdOrName]| {
            resolve_user_with(
                &spec(s),
                extra,
                (PASSWD, GROUP),
                SupplementaryGroups::BuildKit,
            )
            .unwrap()
            .groups
        };
        assert_eq!(build("airbyte", &[]), vec![10, 999]);
        assert_eq!(build("root", &[]), vec![10]);
        assert_eq!(build("1000", &[]), Vec::<u32>::new());
        assert_eq!(build("0", &[]), Vec::<u32>::new());
        assert_eq!(build("airbyte:wheel", &[]), Vec::<u32>::new());
        assert_eq!(build("1000", &[IdOrName::Id(5)]), vec![5]);
    }

    #[test]
    fn missing_names_are_errors() {
        assert!(matches!(
            resolve_user(&spec("nobody"), &[], PASSWD, GROUP),
            Err(Error::UserNotFound { user }) if user == "nobody"
        ));
        assert!(matches!(
            resolve_user(&spec("airbyte:nogroup"), &[], PASSWD, GROUP),
            Err(Error::GroupNotFound { group }) if group == "nogroup"
        ));
        assert!(resolve_user(&spec("root"), &[], "", "").is_err());
    }
}
