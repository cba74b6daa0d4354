use super::*;

#[test]
fn paths_are_split_and_hostile_ones_refused() {
    assert_eq!(
        split_path(b"./a//b/./c/", "path").unwrap(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    assert!(split_path(b"./", "path").unwrap().is_empty());
    assert!(split_path(b"a/../b", "path").unwrap_err().contains("`..`"));
    // A leading `/` is relative to the root, as containerd and docker read it (umoci writes it).
    assert_eq!(
        split_path(b"/etc/passwd", "path").unwrap(),
        vec![b"etc".to_vec(), b"passwd".to_vec()]
    );
    assert!(split_path(b"/", "path").unwrap().is_empty());
    assert!(split_path(b"/../etc", "path").unwrap_err().contains("`..`"));
    assert!(split_path(b"a\0b", "path").unwrap_err().contains("NUL"));
    assert!(split_path(b"", "path").unwrap_err().contains("empty"));
    assert!(
        split_path(&[b'a'; 300], "path")
            .unwrap_err()
            .contains("component")
    );
}
