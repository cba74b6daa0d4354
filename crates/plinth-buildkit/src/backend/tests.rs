use super::names::platform_cache_ref;
use super::*;

#[test]
fn cache_refs_get_a_platform_suffix() {
    let arm = Platform::linux_arm64();
    assert_eq!(
        platform_cache_ref("127.0.0.1:5000/cache/python", &arm),
        "127.0.0.1:5000/cache/python:buildcache-arm64"
    );
    assert_eq!(
        platform_cache_ref("reg.example:443/cache/python:v1", &Platform::linux_amd64()),
        "reg.example:443/cache/python:v1-amd64"
    );
}

#[test]
fn builders_are_assigned_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    let config = BuildkitConfig::new(Store::open(dir.path()).unwrap())
        .with_docker(DockerCli::new("docker", crate::BuildMode::Classic))
        .with_builder("linux/arm64=ssh://arm".parse().unwrap());
    let backend = BuildkitBackend::new(config).unwrap();
    assert_eq!(
        backend.builder_for(&Platform::linux_arm64()),
        &DockerHost::Host("ssh://arm".into())
    );
    assert_eq!(
        backend.builder_for(&Platform::linux_amd64()),
        &DockerHost::Local
    );
}
