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
