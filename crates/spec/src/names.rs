//! The names a server stores things under — workflows, components, secrets, API tokens and
//! artifacts — and the one rule they follow: a character set per kind and one length limit for
//! all, checked when a document is validated or a request is accepted, so that whatever is
//! stored can be named in a URL and found again.

use crate::decode::NameRule;

/// The longest name (in characters) of a workflow, component, secret or API token.
pub const MAX_NAME_LEN: usize = 128;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// `[a-z0-9][a-z0-9-]*` (SPEC §3).
    Workflow,
    /// `[a-z0-9][a-z0-9-]*` (SPEC §2).
    Component,
    /// `[A-Za-z_][A-Za-z0-9_-]*`: what `${{ secrets.NAME }}` can refer to.
    Secret,
    /// A label for people: any characters but control characters, not only spaces.
    Token,
    /// `[A-Za-z_][A-Za-z0-9_-]*`: an artifact of a step (`actions.NAME.artifacts.ART`), also a
    /// file name and a URL segment.
    Artifact,
}

impl NameKind {
    /// `workflow name`, `component name`, `secret name`, `token name`.
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Workflow => "workflow name",
            NameKind::Component => "component name",
            NameKind::Secret => "secret name",
            NameKind::Token => "token name",
            NameKind::Artifact => "artifact name",
        }
    }

    /// The character set, in words.
    pub fn describe(self) -> &'static str {
        match self.rule() {
            Some(rule) => rule.describe(),
            None => "use any characters except control characters (not only spaces)",
        }
    }

    fn rule(self) -> Option<NameRule> {
        match self {
            NameKind::Workflow | NameKind::Component => Some(NameRule::Lower),
            NameKind::Secret | NameKind::Artifact => Some(NameRule::Ident),
            NameKind::Token => None,
        }
    }

    /// `Ok` if `name` is a valid name of this kind; else the problem, in words (naming the limit
    /// or the character set).
    pub fn check(self, name: &str) -> Result<(), String> {
        let len = name.chars().count();
        if len > MAX_NAME_LEN {
            return Err(format!(
                "{} `{}` is {len} characters long; at most {MAX_NAME_LEN} are allowed",
                self.noun(),
                crate::yaml::shorten(name)
            ));
        }
        let ok = match self.rule() {
            Some(rule) => rule.matches(name),
            None => !name.trim().is_empty() && !name.contains(char::is_control),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "invalid {} `{}`: {}",
                self.noun(),
                crate::yaml::shorten(name),
                self.describe()
            ))
        }
    }

    /// Whether `name` is a valid name of this kind.
    pub fn is_valid(self, name: &str) -> bool {
        self.check(name).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_length_limit_for_every_kind() {
        for kind in [
            NameKind::Workflow,
            NameKind::Component,
            NameKind::Secret,
            NameKind::Token,
            NameKind::Artifact,
        ] {
            let at_limit = "a".repeat(MAX_NAME_LEN);
            assert!(kind.is_valid(&at_limit), "{kind:?}");
            let err = kind.check(&"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
            assert!(
                err.contains("129 characters long; at most 128 are allowed"),
                "{err}"
            );
            assert!(err.starts_with(kind.noun()), "{err}");
            assert!(!kind.is_valid(""), "{kind:?}");
        }
        // characters, not bytes
        assert!(NameKind::Token.is_valid(&"é".repeat(MAX_NAME_LEN)));
    }

    #[test]
    fn character_sets_per_kind() {
        assert!(NameKind::Workflow.is_valid("ci-2"));
        assert!(!NameKind::Workflow.is_valid("CI"));
        assert!(!NameKind::Component.is_valid("-x"));
        assert!(NameKind::Secret.is_valid("GITHUB_TOKEN"));
        assert!(NameKind::Secret.is_valid("db-password"));
        assert!(!NameKind::Secret.is_valid("1password"));
        assert!(!NameKind::Secret.is_valid("a.b"));
        assert!(NameKind::Token.is_valid("deploy bot (prod)"));
        assert!(!NameKind::Token.is_valid("   "));
        assert!(!NameKind::Token.is_valid("a\nb"));
        let err = NameKind::Workflow.check("Hello").unwrap_err();
        assert_eq!(
            err,
            "invalid workflow name `Hello`: use lowercase letters, digits and `-`, starting with \
             a letter or digit"
        );
    }
}
