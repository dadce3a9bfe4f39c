//! Reading the files a user names (results, baselines, the configuration,
//! TLS material) with a bound: only a regular file (a FIFO would block the
//! read, `/dev/zero` would never end it) and at most a given size, each
//! refusal an `io::Error` that says what to do. Every layer reads through
//! this.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The bytes of the regular file at `path` (symlinks followed), refused
/// when it is something else or larger than `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let refused = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refused(
            "it is not a regular file (a folder, a FIFO or a device); name a file".into(),
        ));
    }
    if meta.len() > limit {
        return Err(refused(format!(
            "it is {} MiB, more than the {} MiB read at most",
            meta.len() >> 20,
            limit >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(refused(format!(
            "it grew past the {} MiB read at most while it was read",
            limit >> 20
        )));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub(crate) fn read_text_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is not UTF-8 text ({e})"),
        )
    })
}

/// Writes `bytes` to `target` whole or not at all: into a temporary file
/// beside it, then renamed over it. A write that fails (a full disk)
/// removes its temporary file and leaves `target` as it was.
pub(crate) fn write_whole(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = target.as_os_str().to_owned();
    name.push(".tmp");
    let tmp = PathBuf::from(name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, target));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The scratch folders alive in this process, for [`remove_scratch`].
static SCRATCH: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A private folder under the system's temporary folder, removed with
/// everything in it when dropped, or by [`remove_scratch`] from an
/// interrupt handler: no exit path leaves it behind.
#[derive(Debug)]
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) struct Scratch {
    path: PathBuf,
}

#[cfg_attr(not(feature = "harness"), allow(dead_code))]
impl Scratch {
    /// Creates `benchscope-PURPOSE-PID` (emptied first: a folder of that
    /// name is the leftover of a process that had this id).
    pub(crate) fn create(purpose: &str) -> std::io::Result<Scratch> {
        let path =
            std::env::temp_dir().join(format!("benchscope-{purpose}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        SCRATCH
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        Ok(Scratch { path })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        SCRATCH
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != self.path);
    }
}

/// Removes every scratch folder of this process (before it exits on an
/// interrupt, when no destructor will run).
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) fn remove_scratch() {
    let paths = std::mem::take(&mut *SCRATCH.lock().unwrap_or_else(|e| e.into_inner()));
    for path in paths {
        let _ = std::fs::remove_dir_all(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_folder_is_removed_when_dropped_or_on_an_interrupt() {
        let first = Scratch::create("files-unit-a").unwrap();
        let path = first.path().to_owned();
        std::fs::write(path.join("round.json"), "{}").unwrap();
        drop(first);
        assert!(!path.exists());
        let second = Scratch::create("files-unit-b").unwrap();
        let path = second.path().to_owned();
        remove_scratch();
        assert!(!path.exists());
        drop(second);
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = std::env::temp_dir().join(format!("benchscope-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("small");
        std::fs::write(&file, b"hello").unwrap();
        assert_eq!(read_bounded(&file, 5).unwrap(), b"hello");
        let big = read_bounded(&file, 4).unwrap_err().to_string();
        assert!(big.contains("read at most"), "{big}");
        let folder = read_bounded(&dir, 1 << 20).unwrap_err().to_string();
        assert!(folder.contains("not a regular file"), "{folder}");
        #[cfg(unix)]
        {
            let zero = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert!(zero.to_string().contains("not a regular file"));
        }
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(read_text_bounded(&file, 10).is_err());
    }
}
