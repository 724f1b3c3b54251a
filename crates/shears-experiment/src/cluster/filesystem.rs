//! Whether a store's filesystem gives locks that hold across nodes (docs/cluster.md). The store
//! relies on `flock` excluding writers on every node that mounts it; a few mount options
//! quietly make such locks node-local, which no lock call reports: two nodes would then both
//! "hold" a run's lock. Those mounts are refused by name instead.

use std::path::{Path, PathBuf};

/// Why locks on a filesystem of type `fstype` mounted with `options` are not shared between
/// nodes, or `None` when nothing known says so.
pub fn lock_problem(fstype: &str, options: &str) -> Option<String> {
    let has = |o: &str| options.split(',').any(|x| x == o);
    match fstype {
        "nfs" | "nfs4" if has("nolock") => {
            Some("mounted with `nolock`: locks are local to each node".into())
        }
        "nfs" | "nfs4" if has("local_lock=all") || has("local_lock=flock") => {
            Some("mounted with `local_lock=flock`/`all`: flock locks are local to each node".into())
        }
        "lustre" if has("localflock") => {
            Some("mounted with `localflock`: locks are local to each node".into())
        }
        "lustre" if !has("flock") => {
            Some("mounted without `flock`: Lustre then refuses locks altogether".into())
        }
        "cifs" | "smb3" if has("nobrl") => {
            Some("mounted with `nobrl`: locks are local to each node".into())
        }
        _ => None,
    }
}

/// The mount (type, options, mount point) of `path` in a `/proc/mounts` text: the longest
/// mount point containing it.
pub fn mount_of<'a>(mounts: &'a str, path: &Path) -> Option<(&'a str, &'a str, PathBuf)> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Spaces in mount points are written as \040.
            let point = PathBuf::from(f.get(1)?.replace("\\040", " "));
            Some((*f.get(2)?, *f.get(3)?, point))
        })
        .filter(|(_, _, point)| path.starts_with(point))
        .max_by_key(|(_, _, point)| point.components().count())
}

/// Refuses a store at `dir` whose mount makes locks node-local (see the module docs). Where
/// `/proc/self/mounts` is not there (not Linux), nothing is checked.
pub fn check_shared_locks(dir: &Path) -> Result<(), String> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Ok(());
    };
    // The nearest existing ancestor, with links resolved: the store may not exist yet.
    let mut probe = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let real = loop {
        if let Ok(p) = probe.canonicalize() {
            break p;
        }
        if !probe.pop() {
            return Ok(());
        }
    };
    match mount_of(&mounts, &real) {
        Some((fstype, options, point)) => match lock_problem(fstype, options) {
            Some(why) => Err(format!(
                "{}: the store's filesystem ({fstype} at {}) is {why}, so two nodes could run \
                 one task at once and both write its results; use a store on a filesystem with \
                 shared locks (docs/cluster.md)",
                dir.display(),
                point.display()
            )),
            None => Ok(()),
        },
        None => Ok(()),
    }
}
