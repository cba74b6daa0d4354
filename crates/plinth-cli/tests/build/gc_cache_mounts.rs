//! `plinth gc --cache-mounts`: the `RUN --mount=type=cache` volumes go, as `docker builder
//! prune` removes them, and only when asked.

use super::{build_amd64, busybox_dockerfile, stdout_ok};

#[test]
fn gc_removes_cache_mount_volumes_only_when_asked() {
    let Some((ctx, dockerfile)) = busybox_dockerfile(
        "RUN --mount=type=cache,target=/c,id=gc-volume sh -c 'ls /c > /seen; echo kept > /c/marker'\n",
    ) else {
        return;
    };
    // Each build runs the step again and shows what the cache held before it.
    let seen = |n: usize| {
        let out = ctx.temp_dir().join(format!("tree-{n}"));
        stdout_ok(
            &ctx,
            build_amd64(&ctx, &dockerfile)
                .args(["--no-cache", "--output"])
                .arg(format!("type=local,dest={}", out.display()))
                .arg(ctx.temp_dir()),
        );
        std::fs::read_to_string(out.join("seen")).unwrap()
    };
    let gc = |extra: &[&str]| -> serde_json::Value {
        let out = stdout_ok(
            &ctx,
            ctx.plinth().args(["gc", "--now", "--json"]).args(extra),
        );
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(seen(1), "", "a new cache starts empty");
    assert_eq!(
        seen(2),
        "marker\n",
        "the cache keeps what the first build left"
    );

    let plain = gc(&[]);
    assert_eq!(plain["cache_mounts_removed"], 0, "{plain}");
    assert_eq!(seen(3), "marker\n", "a plain gc keeps cache mounts");

    let dry = gc(&["--cache-mounts", "--dry-run"]);
    assert_eq!(dry["cache_mounts_removed"], 1, "{dry}");
    assert_eq!(seen(4), "marker\n", "a dry run removes nothing");

    let pruned = gc(&["--cache-mounts"]);
    assert_eq!(pruned["cache_mounts_removed"], 1, "{pruned}");
    assert!(
        pruned["cache_mounts_bytes_freed"].as_u64().unwrap() >= 5,
        "{pruned}"
    );
    assert_eq!(seen(5), "", "the next build starts the cache empty");
}
