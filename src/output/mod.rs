//! Writing results: the human table and atomic file writes.

pub mod plots;
pub mod table;

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Most symbolic links [`write_atomic`] follows before giving up (the
/// kernel's own limit for path resolution).
const MAX_LINKS: usize = 40;

/// Numbers the temporary files of one process, so two writes of the same
/// file from two threads never share one.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, written, flushed and synced, then renamed over the target.
/// A reader never sees a half-written file, and an interrupted write
/// leaves the old file (or none).
///
/// - **Symbolic links** are written through: when `path` is a link (or a
///   chain of links), the file it finally names is replaced atomically,
///   next to itself, and the link stays a link. A dangling link creates
///   its target.
/// - **Only regular files are replaced.** A target that is a directory,
///   a device node, a FIFO or a socket is refused with an
///   [`io::ErrorKind::InvalidInput`] error naming it; nothing is written.
/// - **Durability** (Unix): the file is fsynced before the rename and its
///   folder after, so the new name survives a power cut. An existing
///   target's permissions carry over to the new file.
/// - **Temporary files** are named `.{name}.tmp.{pid}.{n}` in the target's
///   folder (`{pid}` the writing process, `{n}` a per-process counter; see
///   [`temp_owner`]) and removed on every error path. Only a killed
///   process leaves one behind; its `{pid}` tells a sweep whose it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with(path, contents, || Ok(()))
}

/// [`write_atomic`] with a hook run just before the rename (tests use it to
/// make the rename fail).
fn write_atomic_with(
    path: &Path,
    contents: &[u8],
    before_rename: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let target = resolve_links(path)?;
    let permissions = match fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_file() => Some(m.permissions()),
        Ok(m) => {
            let via = if target == path {
                String::new()
            } else {
                format!(" (the target of {})", path.display())
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}{via} is {}, not a regular file; refusing to replace it",
                    target.display(),
                    describe(&m.file_type())
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let Some(name) = target.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", target.display()),
        ));
    };
    let dir = parent_dir(&target);
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    // `create_new`: never follow or reuse something already at the
    // temporary name (it is not ours, so it is not removed either).
    let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let result = (|| {
        file.write_all(contents)?;
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        file.sync_all()?;
        drop(file);
        before_rename()?;
        fs::rename(&tmp, &target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // After a successful rename the name is gone and this fails
        // harmlessly.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The process id in a temporary file name [`write_atomic`] makes
/// (`.{name}.tmp.{pid}.{n}`, or `.{name}.tmp.{pid}` as earlier versions
/// named them), or `None` for any other name. A sweep removes such files
/// whose process is no longer running.
pub fn temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (name, pid) = rest.rsplit_once(".tmp.")?;
    let pid = match pid.split_once('.') {
        Some((pid, seq)) if seq.parse::<u64>().is_ok() => pid,
        Some(_) => return None,
        None => pid, // earlier versions: `.{name}.tmp.{pid}`
    };
    if name.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Follows `path` through symbolic links to the name they finally point
/// at (which may not exist yet).
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    parent_dir(&p).join(link)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: more than {MAX_LINKS} levels of symbolic links",
            path.display()
        ),
    ))
}

/// What a non-regular file is, for the refusal message.
fn describe(t: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Makes a rename in `dir` durable (Unix: fsync the folder).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("syncsim-aw-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = temp("replace");
        let p = dir.join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(&dir), ["r.json"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failed_write_leaves_no_temp_and_keeps_the_old_file() {
        let dir = temp("fail");
        let p = dir.join("r.json");
        write_atomic(&p, b"old").unwrap();
        // The rename fails: something else put a non-empty folder there
        // between the check and the rename.
        let err = write_atomic_with(&p, b"new", || {
            fs::remove_file(&p)?;
            fs::create_dir(&p)?;
            fs::write(p.join("x"), b"x")
        })
        .unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(names(&dir), ["r.json"], "temp file left behind");
        // A failure before the rename keeps the old file.
        fs::remove_dir_all(&p).unwrap();
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, b"new", || Err(io::Error::other("injected"))).unwrap_err();
        assert_eq!(err.to_string(), "injected");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(&dir), ["r.json"], "temp file left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_symlinks_and_keeps_them() {
        use std::os::unix::fs::symlink;
        let dir = temp("link");
        fs::create_dir(dir.join("real")).unwrap();
        let target = dir.join("real/report.json");
        fs::write(&target, b"old").unwrap();
        // A relative link, and a link to that link.
        symlink("real/report.json", dir.join("link")).unwrap();
        symlink(dir.join("link"), dir.join("link2")).unwrap();
        write_atomic(&dir.join("link2"), b"new").unwrap();
        assert!(fs::symlink_metadata(dir.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(dir.join("link2"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(names(&dir.join("real")), ["report.json"]);
        // A dangling link creates its target.
        symlink("real/new.json", dir.join("dangling")).unwrap();
        write_atomic(&dir.join("dangling"), b"made").unwrap();
        assert_eq!(fs::read(dir.join("real/new.json")).unwrap(), b"made");
        assert!(fs::symlink_metadata(dir.join("dangling"))
            .unwrap()
            .file_type()
            .is_symlink());
        // A loop is an error, not a hang.
        symlink("loop-b", dir.join("loop-a")).unwrap();
        symlink("loop-a", dir.join("loop-b")).unwrap();
        let err = write_atomic(&dir.join("loop-a"), b"x").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_a_directory() {
        let dir = temp("dir");
        let err = write_atomic(&dir, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(msg.contains("a directory, not a regular file"), "{msg}");
        assert!(dir.is_dir());
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_fifos_and_devices_even_through_links() {
        use std::os::unix::fs::{symlink, FileTypeExt};
        use std::process::Command;
        let dir = temp("special");
        let fifo = dir.join("fifo");
        let made = Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = write_atomic(&fifo, b"x").unwrap_err();
            assert!(
                err.to_string().contains("a FIFO, not a regular file"),
                "{err}"
            );
            assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        }
        // A private null device (as root); else the real one, which this
        // refuses before touching anything.
        let null = dir.join("null");
        let made = Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .status();
        let null = if made.is_ok_and(|s| s.success()) {
            null
        } else {
            PathBuf::from("/dev/null")
        };
        symlink(&null, dir.join("to-null")).unwrap();
        for p in [null.clone(), dir.join("to-null")] {
            let err = write_atomic(&p, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            let msg = err.to_string();
            assert!(msg.contains("a character device"), "{msg}");
            assert!(msg.contains(&null.display().to_string()), "{msg}");
        }
        assert!(fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device());
        let left: Vec<String> = names(&dir)
            .into_iter()
            .filter(|n| temp_owner(n).is_some())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temp_names_say_whose_they_are() {
        assert_eq!(temp_owner(".r.json.tmp.123.0"), Some(123));
        assert_eq!(temp_owner(".tmp.tmp.7.12"), Some(7));
        assert_eq!(temp_owner("r.json.tmp.123.0"), None);
        assert_eq!(temp_owner(".r.json"), None);
        assert_eq!(temp_owner("..tmp.1.2"), None);
        assert_eq!(temp_owner(".r.tmp.x.2"), None);
        // As earlier versions named them.
        assert_eq!(temp_owner(".r.json.tmp.4294967"), Some(4294967));
        assert_eq!(temp_owner(".tmp.4294967"), None);
        assert_eq!(temp_owner(".a.tmp.5"), Some(5));
        assert_eq!(temp_owner(".a.tmp.5.x"), None);
    }
}
