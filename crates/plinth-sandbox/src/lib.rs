//! The daemonless sandbox of plinth: namespaces, overlayfs, chroot, exec; the only unsafe code
