//! `Engine::gc`: snapshots, links and cache entries follow the layers the store still keeps.

use plinth_engine::BuildOptions;
use plinth_oci::Platform;
use plinth_oci::store::GcOptions;
use plinth_recipe::Container;

use crate::common::*;

fn dir_names(path: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn gc_removes_snapshots_and_entries_of_unreferenced_layers_only() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(Some(0));
    let platform = Platform::linux_amd64();
    let options = |id: &str| BuildOptions::new([platform.clone()]).with_recipe_id(id);
    let base = Container::from_address(&busybox_layout()).unwrap();
    let kept = base.clone().with_exec(["sh", "-c", "echo kept > /kept"]);
    let dropped = base
        .clone()
        .with_exec(["sh", "-c", "echo dropped > /dropped"]);
    t.engine.build(&kept, &options("kept")).unwrap();
    let gone = t.engine.build(&dropped, &options("dropped")).unwrap();
    let gone_diff_id = gone.platforms[0]
        .config
        .rootfs
        .diff_ids
        .last()
        .unwrap()
        .clone();
    let snapshots = t.store.root().join("snapshots");
    assert!(dir_names(&snapshots).contains(&gone_diff_id.hex().to_owned()));
    // Leftovers of an interrupted build.
    std::fs::create_dir_all(t.store.root().join("steps/sLEFTOVER/u")).unwrap();

    // An entry ref in the format of earlier versions.
    t.store.set_ref("cache/steps/0123abcd", &gone.root).unwrap();

    // Nothing unreferenced yet: a gc keeps every snapshot, and drops the old-format entry.
    let report = t.engine.gc(&GcOptions::immediate()).unwrap();
    assert!(report.snapshots_removed.is_empty(), "{report:?}");
    assert_eq!(report.cache_entries_removed, 1, "{report:?}");
    assert!(t.store.get_ref("cache/steps/0123abcd").unwrap().is_none());
    assert_eq!(report.temp_dirs_removed, 1, "{report:?}");
    assert!(dir_names(&t.store.root().join("steps")).is_empty());

    // Forget the second recipe: its layer loses every ref.
    for r in t.store.list_refs().unwrap() {
        if r.name.starts_with("builds/dropped/") {
            t.store.delete_ref(&r.name).unwrap();
        }
    }
    let dry = t
        .engine
        .gc(&GcOptions {
            dry_run: true,
            ..GcOptions::immediate()
        })
        .unwrap();
    assert_eq!(dry.snapshots_removed, vec![gone_diff_id.clone()], "{dry:?}");
    assert!(
        dir_names(&snapshots).contains(&gone_diff_id.hex().to_owned()),
        "a dry run removes nothing"
    );

    let report = t.engine.gc(&GcOptions::immediate()).unwrap();
    assert_eq!(
        report.snapshots_removed,
        vec![gone_diff_id.clone()],
        "{report:?}"
    );
    assert_eq!(report.cache_entries_removed, 1, "{report:?}");
    assert!(
        report.snapshots_kept >= 2,
        "busybox and the kept step: {report:?}"
    );
    assert!(!dir_names(&snapshots).contains(&gone_diff_id.hex().to_owned()));
    for link in dir_names(&t.store.root().join("l")) {
        assert!(
            t.store.root().join("l").join(&link).exists(),
            "dangling link `{link}` kept"
        );
    }

    // The kept recipe is still fully cached; the dropped one runs its step again and builds.
    let again = t.engine.build(&kept, &options("kept")).unwrap();
    assert_eq!(again.steps_run(), 0);
    let rebuilt = t.engine.build(&dropped, &options("dropped")).unwrap();
    assert_eq!(rebuilt.steps_run(), 1);
    assert_eq!(
        rebuilt.root.digest, gone.root.digest,
        "SOURCE_DATE_EPOCH builds are reproducible"
    );
}
