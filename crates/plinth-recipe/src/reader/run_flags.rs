//! RUN's `--mount=type=cache` options.

use crate::state::{CacheMount, normalize_path};

pub(super) fn parse_cache_mount(spec: &str) -> std::result::Result<CacheMount, String> {
    let mut kind = "bind";
    let (mut target, mut id, mut uid, mut gid) = (None, None, None, None);
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => kind = value,
            "target" | "dst" | "destination" => target = Some(value),
            "id" => id = Some(value),
            "uid" => {
                uid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("`uid={value}` is not a number"))?,
                )
            }
            "gid" => {
                gid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("`gid={value}` is not a number"))?,
                )
            }
            "sharing" if value == "shared" => {}
            other => {
                return Err(format!(
                    "the mount option `{other}` is not supported (plinth cache mounts are shared, keyed by id)"
                ));
            }
        }
    }
    if kind != "cache" {
        return Err(format!(
            "`RUN --mount=type={kind}` is not supported: only cache mounts are"
        ));
    }
    let target = target
        .filter(|t| t.starts_with('/'))
        .ok_or("a cache mount needs an absolute `target=`")?;
    let owner = match (uid, gid) {
        (None, None) => None,
        (u, g) => Some(format!("{}:{}", u.unwrap_or(0), g.unwrap_or(0))),
    };
    let path = normalize_path(target);
    Ok(CacheMount {
        volume: id.filter(|i| !i.is_empty()).unwrap_or(target).to_owned(),
        path,
        owner,
    })
}
