use super::*;

/// A tar archive as the engine's archive API gives it: `(name, kind, mode, data or link target)`.
fn engine_tar(entries: &[(&str, char, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, mode, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        match kind {
            'd' => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, name, io::empty()).unwrap();
            }
            'l' => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, name, data).unwrap();
            }
            'h' => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, name, data).unwrap();
            }
            _ => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: ArtifactStore,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path().join("artifacts")).unwrap();
    Fixture { _dir: dir, store }
}

impl Fixture {
    fn ingest(&self, path: &str, tar: &[u8], max: u64) -> Result<Blob, ArtifactError> {
        let mut raw = self.store.temp_file().unwrap();
        raw.write_all(tar).unwrap();
        self.store
            .ingest(raw.path(), &ArtifactPath::parse(path).unwrap(), max)
    }

    fn read(&self, blob: &Blob) -> Vec<u8> {
        let mut out = Vec::new();
        self.store
            .open_blob(&blob.sha256)
            .unwrap()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// The names, modes and link targets of a stored tar blob.
    fn listing(&self, blob: &Blob) -> Vec<String> {
        let bytes = self.read(blob);
        let mut a = tar::Archive::new(bytes.as_slice());
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| format!(" -> {}", l.display()))
                    .unwrap_or_default();
                format!(
                    "{} {:o}{link}",
                    e.path().unwrap().display(),
                    e.header().mode().unwrap()
                )
            })
            .collect()
    }

    fn temp_files(&self) -> usize {
        fs::read_dir(self.store.root().join("tmp")).unwrap().count()
    }
}

#[test]
fn a_single_file_is_stored_as_its_bytes_under_its_sha256() {
    let f = fixture();
    let tar = engine_tar(&[("app.tar.gz", 'f', 0o644, "payload")]);
    let blob = f.ingest("dist/app.tar.gz", &tar, 1024).unwrap();
    assert_eq!(blob.kind, ArtifactKind::File);
    assert_eq!(blob.size, 7);
    assert_eq!(blob.sha256, Digest::of(b"payload"));
    assert_eq!(
        blob.sha256.as_str(),
        "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"
    );
    assert_eq!(f.read(&blob), b"payload");
    let path = f.store.blob_path(&blob.sha256);
    assert!(path
        .ends_with("sha256/23/239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"));
    // The same bytes again: the same blob, stored once.
    let again = f.ingest("dist/app.tar.gz", &tar, 1024).unwrap();
    assert_eq!(again, blob);
    assert_eq!(f.temp_files(), 0, "nothing left in tmp/");
}

#[test]
fn a_directory_is_one_archive_with_its_modes() {
    let f = fixture();
    let tar = engine_tar(&[
        ("dist", 'd', 0o755, ""),
        ("dist/run.sh", 'f', 0o755, "#!/bin/sh\n"),
        ("dist/data.txt", 'f', 0o600, "x"),
        ("dist/link", 'l', 0o777, "data.txt"),
        ("dist/abs", 'l', 0o777, "/workspace/dist/data.txt"),
    ]);
    let blob = f.ingest("dist", &tar, 1 << 20).unwrap();
    assert_eq!(blob.kind, ArtifactKind::Tar);
    assert_eq!(
        f.listing(&blob),
        [
            "dist 755",
            "dist/run.sh 755",
            "dist/data.txt 600",
            "dist/link 777 -> data.txt",
            "dist/abs 777 -> /workspace/dist/data.txt"
        ]
    );
    assert_eq!(blob.size, f.read(&blob).len() as u64);
}

#[test]
fn a_glob_keeps_only_what_it_matches() {
    let f = fixture();
    let tar = engine_tar(&[
        ("reports", 'd', 0o755, ""),
        ("reports/a.xml", 'f', 0o644, "<a/>"),
        ("reports/sub", 'd', 0o755, ""),
        ("reports/sub/b.xml", 'f', 0o644, "<b/>"),
        ("reports/sub/c.txt", 'f', 0o644, "c"),
    ]);
    let blob = f.ingest("reports/**/*.xml", &tar, 1 << 20).unwrap();
    assert_eq!(blob.kind, ArtifactKind::Tar);
    assert_eq!(
        f.listing(&blob),
        ["reports/a.xml 644", "reports/sub/b.xml 644"]
    );
    let err = f.ingest("reports/*.json", &tar, 1 << 20).unwrap_err();
    assert_eq!(err.to_string(), "`reports/*.json` matched nothing");
    // The whole workspace's archive is named `workspace/…`.
    let ws = engine_tar(&[
        ("workspace", 'd', 0o755, ""),
        ("workspace/build.log", 'f', 0o644, "log"),
        ("workspace/x.txt", 'f', 0o644, "x"),
    ]);
    let blob = f.ingest("*.log", &ws, 1 << 20).unwrap();
    assert_eq!(f.listing(&blob), ["workspace/build.log 644"]);
}

#[test]
fn symlinks_out_of_the_workspace_are_refused() {
    let f = fixture();
    for (target, ok) in [
        ("/etc/passwd", false),
        ("../../etc", false),
        ("../..", false),
        ("/workspacex/a", false),
        ("../other/file", true),
        ("/workspace", true),
    ] {
        let tar = engine_tar(&[("dist", 'd', 0o755, ""), ("dist/l", 'l', 0o777, target)]);
        let result = f.ingest("dist", &tar, 1 << 20);
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(ArtifactError::Refused(m))) => {
                assert_eq!(
                    m,
                    format!(
                        "the symbolic link /workspace/dist/l points to `{target}`, outside /workspace"
                    )
                );
            }
            (_, other) => panic!("{target}: {other:?}"),
        }
    }
    let tar = engine_tar(&[
        ("dist", 'd', 0o755, ""),
        ("dist/h", 'h', 0o644, "../etc/shadow"),
    ]);
    assert!(matches!(
        f.ingest("dist", &tar, 1 << 20),
        Err(ArtifactError::Refused(_))
    ));
    assert_eq!(f.temp_files(), 0, "refused artifacts leave no temp file");
}

#[test]
fn the_size_limit_stops_the_write_and_leaves_nothing() {
    let f = fixture();
    let big = "x".repeat(5000);
    let tar = engine_tar(&[("big.bin", 'f', 0o644, &big)]);
    let err = f.ingest("big.bin", &tar, 4096).unwrap_err();
    assert!(
        matches!(err, ArtifactError::TooLarge { limit: 4096 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "it is larger than the maximum artifact size of 4 KiB"
    );
    let dir = engine_tar(&[("d", 'd', 0o755, ""), ("d/big.bin", 'f', 0o644, &big)]);
    assert!(matches!(
        f.ingest("d", &dir, 4096),
        Err(ArtifactError::TooLarge { .. })
    ));
    assert_eq!(f.temp_files(), 0);
    assert!(fs::read_dir(f.store.root().join("sha256"))
        .unwrap()
        .next()
        .is_none());
    // At the limit exactly: kept.
    let exact = engine_tar(&[("e.bin", 'f', 0o644, &big[..4096])]);
    assert_eq!(f.ingest("e.bin", &exact, 4096).unwrap().size, 4096);
}

#[test]
fn a_broken_archive_is_an_error_not_a_panic() {
    let f = fixture();
    let err = f.ingest(
        "dist",
        b"this is not tar at all, but it is long enough to look at it",
        1024,
    );
    assert!(err.is_err());
    let err = f.ingest("dist", b"", 1024).unwrap_err();
    assert_eq!(err.to_string(), "`dist` matched nothing");
}

#[test]
fn stale_temp_files_are_removed_fresh_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a");
    let store = ArtifactStore::open(&root).unwrap();
    let fresh = store.temp_file().unwrap().keep().unwrap().1;
    let old = root.join("tmp/old");
    fs::write(&old, b"half").unwrap();
    let day_ago = SystemTime::now() - Duration::from_secs(25 * 3600);
    File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(day_ago)
        .unwrap();
    ArtifactStore::open(&root).unwrap();
    assert!(!old.exists());
    assert!(fresh.exists());
}

#[test]
fn digests_and_kinds_parse() {
    let d = Digest::of(b"");
    assert_eq!(Digest::parse(&d.as_str().to_uppercase()).unwrap(), d);
    assert!(Digest::parse("abc").is_err());
    assert!(Digest::parse(&"g".repeat(64)).is_err());
    assert_eq!(ArtifactKind::parse("tar"), Some(ArtifactKind::Tar));
    assert_eq!(ArtifactKind::parse("zip"), None);
    assert_eq!(size_text(1 << 30), "1024 MiB");
}

#[test]
fn copy_out_checks_the_digest_and_writes_whole_files_only() {
    let f = fixture();
    let blob = f
        .store
        .put(&mut &b"hello"[..], ArtifactKind::File, 100)
        .unwrap();
    let out = f._dir.path().join("out/hello.txt");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    assert_eq!(f.store.copy_out(&blob.sha256, &out).unwrap(), 5);
    assert_eq!(fs::read(&out).unwrap(), b"hello");
    // A damaged blob is refused and the file is left as it was.
    fs::write(f.store.blob_path(&blob.sha256), b"hellO").unwrap();
    let err = f.store.copy_out(&blob.sha256, &out).unwrap_err();
    assert!(matches!(err, ArtifactError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("is damaged"), "{err}");
    assert_eq!(fs::read(&out).unwrap(), b"hello");
    assert_eq!(
        fs::read_dir(out.parent().unwrap()).unwrap().count(),
        1,
        "no temp file left"
    );
    let missing = Digest::of(b"never stored");
    assert!(matches!(
        f.store.copy_out(&missing, &out),
        Err(ArtifactError::Missing(_))
    ));
}

#[test]
fn file_names_for_copies() {
    assert_eq!(
        file_name("package", "dist/app.tar.gz", ArtifactKind::File),
        "app.tar.gz"
    );
    assert_eq!(
        file_name("package", "/workspace/x/", ArtifactKind::File),
        "x"
    );
    assert_eq!(
        file_name("tree", "dist/tree", ArtifactKind::Tar),
        "tree.tar"
    );
    assert_eq!(file_name("all", ".", ArtifactKind::File), "all");
}
