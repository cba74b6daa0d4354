//! Remote cache: `cache_to` pushes each platform's inline-cache image to the registry;
//! `cache_from` builds import it.

use plinth_buildkit::{BuildkitBackend, BuildkitConfig};
use plinth_executor::BuildOptions;
use plinth_oci::{Platform, Store};
use plinth_recipe::Container;
use plinth_test::LocalRegistry;

use crate::common::{busybox_root, ok, require_all};

#[test]
fn cache_to_pushes_a_per_platform_cache_image_that_cache_from_reads() {
    if !require_all() {
        return;
    }
    let registry = LocalRegistry::shared();
    let cache = registry.image("buildkit/cache");
    let dir = tempfile::tempdir().unwrap();
    let recipe = Container::from_address(&busybox_root())
        .unwrap()
        .with_exec(["sh", "-c", "echo cached > /c"]);
    let options = BuildOptions::new([Platform::linux_amd64()]);
    let writer = ok(BuildkitBackend::new(
        BuildkitConfig::new(Store::open(dir.path().join("a")).unwrap()).with_cache_to(&cache),
    ));
    ok(writer.build(&recipe, &options));
    assert_eq!(
        registry
            .get_status("/v2/buildkit/cache/manifests/buildcache-amd64")
            .unwrap(),
        200,
        "the cache image is in the registry"
    );
    let reader = ok(BuildkitBackend::new(
        BuildkitConfig::new(Store::open(dir.path().join("b")).unwrap()).with_cache_from(&cache),
    ));
    let built = ok(reader.build(&recipe, &options));
    // On one daemon the local cache would hit anyway; this checks the daemon accepts the
    // import and the result is cached: nothing ran, and the `FROM` that BuildKit resolved
    // again unpacked nothing.
    let steps = &built.platforms[0].steps;
    assert_eq!(
        steps.iter().find(|s| s.index == 1).map(|s| s.status),
        Some(plinth_executor::CacheStatus::Hit),
        "{steps:#?}"
    );
    assert_eq!(built.steps_run(), 0, "{steps:#?}");
}
