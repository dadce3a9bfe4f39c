//! Reading the files a user names (results, baselines, the configuration,
//! TLS material) with a bound: only a regular file (a FIFO would block the
//! read, `/dev/zero` would never end it) and at most a given size, each
//! refusal an `io::Error` that says what to do. Every layer reads through
//! this.

use std::io::Read as _;
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

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
