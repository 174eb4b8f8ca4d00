//! Where local state lives.

use std::path::PathBuf;

/// The local store (SPEC §5): `$CONTAINEROPS_DB`, else `$XDG_DATA_HOME/containerops/containerops.db`,
/// else `~/.local/share/containerops/containerops.db`.
pub fn database() -> PathBuf {
    database_from(
        std::env::var_os("CONTAINEROPS_DB"),
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The local artifact store: `$CONTAINEROPS_ARTIFACTS`, else `artifacts/` next to the local
/// database (so `$XDG_DATA_HOME/containerops/artifacts` by default, the server's default too).
pub fn artifact_store() -> PathBuf {
    artifact_store_from(std::env::var_os("CONTAINEROPS_ARTIFACTS"), &database())
}

fn artifact_store_from(
    explicit: Option<std::ffi::OsString>,
    database: &std::path::Path,
) -> PathBuf {
    if let Some(path) = explicit.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    database
        .parent()
        .map(|dir| dir.join("artifacts"))
        .unwrap_or_else(|| PathBuf::from("artifacts"))
}

fn database_from(
    explicit: Option<std::ffi::OsString>,
    xdg_data: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> PathBuf {
    if let Some(path) = explicit.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let data = xdg_data
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            home.map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".local/share")
        });
    data.join("containerops").join("containerops.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_store_is_next_to_the_database_unless_named() {
        let db = PathBuf::from("/xdg/containerops/containerops.db");
        assert_eq!(
            artifact_store_from(None, &db),
            PathBuf::from("/xdg/containerops/artifacts")
        );
        assert_eq!(
            artifact_store_from(Some("/a".into()), &db),
            PathBuf::from("/a")
        );
        assert_eq!(
            artifact_store_from(Some("".into()), &db),
            PathBuf::from("/xdg/containerops/artifacts")
        );
    }

    #[test]
    fn database_path_follows_the_spec_order() {
        assert_eq!(
            database_from(
                Some("/x/db".into()),
                Some("/xdg".into()),
                Some("/home/u".into())
            ),
            PathBuf::from("/x/db")
        );
        assert_eq!(
            database_from(None, Some("/xdg".into()), Some("/home/u".into())),
            PathBuf::from("/xdg/containerops/containerops.db")
        );
        assert_eq!(
            database_from(Some("".into()), None, Some("/home/u".into())),
            PathBuf::from("/home/u/.local/share/containerops/containerops.db")
        );
    }
}
