//! Known noise: files whose differences between two builds of the same recipe are expected
//! (logs, caches, timestamps written into files) and say nothing about the inputs. A noisy
//! difference is still a difference: it is reported in a section of its own, never dropped.

/// One kind of known noise: which paths, and why they differ.
struct NoiseRule {
    matches: fn(&str) -> bool,
    reason: &'static str,
}

const RULES: &[NoiseRule] = &[
    NoiseRule {
        matches: |p| {
            p.starts_with("var/log/apt/")
                || matches!(
                    p,
                    "var/log/dpkg.log" | "var/log/alternatives.log" | "var/log/bootstrap.log"
                )
        },
        reason: "apt/dpkg log (run times)",
    },
    NoiseRule {
        matches: |p| p == "var/cache/ldconfig/aux-cache",
        reason: "ldconfig aux-cache (inode and modification times)",
    },
    NoiseRule {
        matches: |p| p.ends_with(".pyc"),
        reason: ".pyc (source timestamp in its header)",
    },
    NoiseRule {
        matches: |p| p.starts_with("var/log/"),
        reason: "log file",
    },
    NoiseRule {
        matches: |p| {
            p.starts_with("var/cache/apt/") && p.ends_with(".bin")
                || p.starts_with("var/cache/debconf/") && p.ends_with("-old")
                || p.starts_with("var/lib/dpkg/") && p.ends_with("-old")
        },
        reason: "apt/debconf cache or backup",
    },
];

/// Why a difference at `path` (no leading `/`) is known noise, if it is.
pub fn noise_reason(path: &str) -> Option<&'static str> {
    let path = path.trim_start_matches('/');
    RULES.iter().find(|r| (r.matches)(path)).map(|r| r.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_noise_is_named_and_the_rest_is_not() {
        assert_eq!(
            noise_reason("var/log/apt/term.log"),
            Some("apt/dpkg log (run times)")
        );
        assert_eq!(
            noise_reason("/var/log/dpkg.log"),
            Some("apt/dpkg log (run times)")
        );
        assert_eq!(noise_reason("var/log/custom/x.log"), Some("log file"));
        assert!(noise_reason("var/cache/ldconfig/aux-cache").is_some());
        assert!(noise_reason("usr/lib/python3.11/__pycache__/os.cpython-311.pyc").is_some());
        assert!(noise_reason("var/cache/debconf/config.dat-old").is_some());
        for real in [
            "etc/motd",
            "usr/bin/python3",
            "var/lib/dpkg/status",
            "var/logs",
        ] {
            assert_eq!(noise_reason(real), None, "{real}");
        }
    }
}
