//! Test-only zip builders: a byte-level writer for archives no honest tool makes (duplicate names,
//! lying sizes, device entries), and helpers over the `zip` crate's writer for real ones.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// One stored (uncompressed) entry, every header field under the test's control.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    name: Vec<u8>,
    data: Vec<u8>,
    unix_mode: Option<u32>,
    declared_size: Option<u32>,
    crc: Option<u32>,
    flags: u16,
    method: u16,
}

impl RawEntry {
    pub(crate) fn unix_mode(mut self, mode: u32) -> Self {
        self.unix_mode = Some(mode);
        self
    }

    /// As if made on Windows: no Unix mode at all.
    pub(crate) fn no_unix_mode(mut self) -> Self {
        self.unix_mode = None;
        self
    }

    pub(crate) fn declared_size(mut self, size: u32) -> Self {
        self.declared_size = Some(size);
        self
    }

    pub(crate) fn crc(mut self, crc: u32) -> Self {
        self.crc = Some(crc);
        self
    }

    /// Sets the "encrypted" flag (the data stays plain).
    pub(crate) fn encrypted(mut self) -> Self {
        self.flags |= 1;
        self
    }

    /// Claims a compression method (the data stays stored).
    pub(crate) fn method(mut self, method: u16) -> Self {
        self.method = method;
        self
    }
}

pub(crate) fn entry(name: impl AsRef<[u8]>, data: &[u8], mode: u32) -> RawEntry {
    RawEntry {
        name: name.as_ref().to_vec(),
        data: data.to_vec(),
        unix_mode: Some(mode),
        declared_size: None,
        crc: None,
        flags: 0,
        method: 0,
    }
}

pub(crate) fn file(name: impl AsRef<[u8]>, data: &[u8]) -> RawEntry {
    entry(name, data, 0o100_644)
}

pub(crate) fn dir(name: impl AsRef<[u8]>) -> RawEntry {
    entry(name, b"", 0o040_755)
}

pub(crate) fn link(name: impl AsRef<[u8]>, target: &str) -> RawEntry {
    entry(name, target.as_bytes(), 0o120_777)
}

/// A whole archive of [`RawEntry`]s.
#[derive(Debug, Clone, Default)]
pub(crate) struct Raw {
    entries: Vec<RawEntry>,
}

impl Raw {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn with(mut self, entry: RawEntry) -> Self {
        self.entries.push(entry);
        self
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in &self.entries {
            let offset = u32::try_from(out.len()).expect("test zip under 4 GiB");
            let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
            let size = u32::try_from(e.data.len()).expect("test entry under 4 GiB");
            let declared = e.declared_size.unwrap_or(size);
            let name_len = u16::try_from(e.name.len()).expect("name under 64 KiB");
            let utf8: u16 = if std::str::from_utf8(&e.name).is_ok() {
                0x0800
            } else {
                0
            };
            let flags = e.flags | utf8;
            // Local file header.
            out.extend(0x0403_4b50u32.to_le_bytes());
            out.extend(20u16.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(e.method.to_le_bytes());
            out.extend(0u16.to_le_bytes()); // time
            out.extend(0x21u16.to_le_bytes()); // 1980-01-01
            out.extend(crc.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(declared.to_le_bytes());
            out.extend(name_len.to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(&e.name);
            out.extend(&e.data);
            // Central directory header.
            let (made_by, external) = match e.unix_mode {
                Some(mode) => ((3u16 << 8) | 20, mode << 16),
                None => (20u16, if e.name.ends_with(b"/") { 0x10 } else { 0x20 }),
            };
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend(made_by.to_le_bytes());
            central.extend(20u16.to_le_bytes());
            central.extend(flags.to_le_bytes());
            central.extend(e.method.to_le_bytes());
            central.extend(0u16.to_le_bytes()); // time
            central.extend(0x21u16.to_le_bytes());
            central.extend(crc.to_le_bytes());
            central.extend(size.to_le_bytes());
            central.extend(declared.to_le_bytes());
            central.extend(name_len.to_le_bytes());
            central.extend(0u16.to_le_bytes()); // extra
            central.extend(0u16.to_le_bytes()); // comment
            central.extend(0u16.to_le_bytes()); // disk
            central.extend(0u16.to_le_bytes()); // internal attributes
            central.extend(external.to_le_bytes());
            central.extend(offset.to_le_bytes());
            central.extend(&e.name);
        }
        let cd_offset = u32::try_from(out.len()).expect("under 4 GiB");
        let cd_size = u32::try_from(central.len()).expect("under 4 GiB");
        let count = u16::try_from(self.entries.len()).expect("under 65536 entries");
        out.extend(central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(cd_size.to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }
}

pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What the real writer should put in an archive.
pub(crate) enum Item<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Link(&'a str, &'a str),
}

/// An archive from the `zip` crate's writer, deflated, as real tools make them.
pub(crate) fn written(items: &[Item<'_>]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for item in items {
        match item {
            Item::File(name, data, mode) => {
                w.start_file(*name, opts.unix_permissions(*mode))
                    .expect("start file");
                w.write_all(data).expect("write");
            }
            Item::Dir(name) => w.add_directory(*name, opts).expect("dir"),
            Item::Link(name, target) => w.add_symlink(*name, *target, opts).expect("link"),
        }
    }
    w.finish().expect("finish").into_inner()
}

/// One deflated entry of `len` zeros, with its declared uncompressed size then overwritten
/// in both headers (`None` keeps the honest size).
pub(crate) fn bomb(len: usize, declared: Option<u32>) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9));
    w.start_file("zeros", opts).expect("start");
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        w.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
    let mut zip = w.finish().expect("finish").into_inner();
    if let Some(size) = declared {
        patch_u32(&mut zip, 0x0403_4b50, 22, size);
        patch_u32(&mut zip, 0x0201_4b50, 24, size);
    }
    zip
}

fn patch_u32(zip: &mut [u8], signature: u32, offset: usize, value: u32) {
    let sig = signature.to_le_bytes();
    let at = zip
        .windows(4)
        .position(|w| w == sig)
        .expect("header present");
    zip[at + offset..at + offset + 4].copy_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn raw_archives_are_readable_by_the_zip_crate() {
        let zip = Raw::new()
            .with(file("a.txt", b"hello"))
            .with(dir("d/"))
            .with(link("l", "a.txt"))
            .build();
        let archive = zip::ZipArchive::new(Cursor::new(zip)).expect("valid");
        assert_eq!(archive.len(), 3);
        let e = archive.by_index_data(2).expect("entry");
        assert!(e.is_symlink());
    }
}
