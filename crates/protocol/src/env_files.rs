//! Variables too large for a process environment are delivered as files.
//!
//! Linux refuses to start a process whose environment holds one string over 128 KiB
//! (`MAX_ARG_STRLEN`) or, with the usual 8 MiB stack limit, more than 2 MiB in all (`E2BIG`): a
//! 1 MiB output passed on as an input (it appears in `CO_INPUT_X`, `CO_DATA` and `CO_DATA_JSON`)
//! made the step fail before its command ran. The rule ([`deliver_env`]):
//!
//! 1. A variable whose value is longer than [`MAX_ENV_VALUE_BYTES`] is delivered as a file.
//! 2. If the variables left still take more than [`MAX_ENV_BYTES`] (`NAME=VALUE` plus a NUL
//!    each), the largest of them go to files too (the first of equal ones first) until the rest
//!    fits.
//! 3. A variable `NAME` delivered as a file is not set; `NAME_FILE` is set instead, to the file's
//!    path in the container: [`ENV_FILES_DIR`]`/NAME`, holding exactly the value (no newline
//!    added). Characters of `NAME` other than `[A-Za-z0-9_.-]` become `_` in the file's name.

/// The directory inside a step's container that holds variables delivered as files.
pub const ENV_FILES_DIR: &str = "/run/containerops/env";
/// Longest variable value passed in the environment (32 KiB); a longer one becomes a file.
pub const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;
/// Most bytes of environment (`NAME=VALUE\0` of every variable) passed as variables (256 KiB).
pub const MAX_ENV_BYTES: usize = 256 * 1024;

/// Longest program argument Linux accepts, its NUL included (`MAX_ARG_STRLEN`, 128 KiB).
pub const MAX_ARG_BYTES: usize = 128 * 1024;
/// Most bytes a step's `command:` may have in all (each argument plus its NUL): 1 MiB, which
/// leaves room for the environment ([`MAX_ENV_BYTES`]) and the image's own under the usual 2 MiB
/// (a quarter of an 8 MiB stack limit) that Linux allows a program's arguments and environment.
pub const MAX_COMMAND_BYTES: usize = 1024 * 1024;

/// Check a step's command line against what Linux can start (arguments cannot be files: a
/// program would not know to read them). The message says which argument and what to do.
pub fn check_command(args: &[String]) -> Result<(), String> {
    let mut total = 0usize;
    for (i, arg) in args.iter().enumerate() {
        let size = arg.len() + 1;
        if size > MAX_ARG_BYTES {
            return Err(format!(
                "argument {} is {} bytes; Linux starts no program with an argument over {} bytes \
                 (E2BIG): pass a large value as an input (`with:`), which reaches the step as a \
                 file when it is large",
                i + 1,
                arg.len(),
                MAX_ARG_BYTES - 1
            ));
        }
        total += size;
    }
    if total > MAX_COMMAND_BYTES {
        return Err(format!(
            "the command line is {total} bytes; a step's command may have at most {MAX_COMMAND_BYTES} \
             (Linux would refuse to start it, E2BIG): pass large values as inputs (`with:`), which \
             reach the step as files when they are large"
        ));
    }
    Ok(())
}

/// A variable delivered as a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// The variable's name (`CO_DATA`).
    pub name: String,
    /// Absolute path of the file in the container (`/run/containerops/env/CO_DATA`).
    pub path: String,
    /// The whole value.
    pub content: String,
}

/// The suffix of the variable that points at a file.
pub const FILE_SUFFIX: &str = "_FILE";

/// Split `env` (unique names, in order) into the variables to set and the files to deliver, by
/// the rule of this module. The variables keep their order; each `NAME_FILE` takes the place of
/// its `NAME` (replacing a `NAME_FILE` given in `env`).
pub fn deliver_env(env: Vec<(String, String)>) -> (Vec<(String, String)>, Vec<EnvFile>) {
    let size = |(name, value): &(String, String)| name.len() + value.len() + 2;
    let mut as_file: Vec<bool> = env
        .iter()
        .map(|(_, value)| value.len() > MAX_ENV_VALUE_BYTES)
        .collect();
    let mut total: usize = env
        .iter()
        .zip(&as_file)
        .filter(|(_, file)| !**file)
        .map(|(var, _)| size(var))
        .sum();
    if total > MAX_ENV_BYTES {
        // Largest first; the first of equal ones first.
        let mut order: Vec<usize> = (0..env.len()).filter(|&i| !as_file[i]).collect();
        order.sort_by(|&a, &b| size(&env[b]).cmp(&size(&env[a])).then(a.cmp(&b)));
        for i in order {
            if total <= MAX_ENV_BYTES {
                break;
            }
            as_file[i] = true;
            total -= size(&env[i]);
        }
    }
    if !as_file.contains(&true) {
        return (env, Vec::new());
    }
    let pointers: std::collections::HashSet<String> = env
        .iter()
        .zip(&as_file)
        .filter(|(_, file)| **file)
        .map(|((name, _), _)| format!("{name}{FILE_SUFFIX}"))
        .collect();
    let mut vars = Vec::with_capacity(env.len());
    let mut files: Vec<EnvFile> = Vec::new();
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    for ((name, value), file) in env.into_iter().zip(as_file) {
        if !file {
            if !pointers.contains(&name) {
                vars.push((name, value));
            }
            continue;
        }
        let base = file_name(&name);
        let mut unique = base.clone();
        let mut n = 1;
        while !taken.insert(unique.clone()) {
            n += 1;
            unique = format!("{base}.{n}");
        }
        let path = format!("{ENV_FILES_DIR}/{unique}");
        vars.push((format!("{name}{FILE_SUFFIX}"), path.clone()));
        files.push(EnvFile {
            name,
            path,
            content: value,
        });
    }
    (vars, files)
}

/// A variable's name as a file name: `[A-Za-z0-9_.-]` kept, anything else `_`; never `.`/`..`.
fn file_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = format!("_{out}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: impl Into<String>) -> (String, String) {
        (name.to_string(), value.into())
    }

    #[test]
    fn command_lines_linux_cannot_start_are_refused_with_the_reason() {
        assert_eq!(
            check_command(&["sh".into(), "x".repeat(MAX_ARG_BYTES - 1)]),
            Ok(())
        );
        let err =
            check_command(&["sh".into(), "-c".into(), "x".repeat(MAX_ARG_BYTES)]).unwrap_err();
        assert!(err.starts_with("argument 3 is 131072 bytes;"), "{err}");
        assert!(
            err.contains("E2BIG") && err.contains("as an input"),
            "{err}"
        );
        let many: Vec<String> = (0..9).map(|_| "y".repeat(MAX_ARG_BYTES - 1)).collect();
        let err = check_command(&many).unwrap_err();
        assert!(
            err.starts_with("the command line is 1179648 bytes;"),
            "{err}"
        );
        assert!(!err.contains("  "), "{err}");
    }

    #[test]
    fn small_environments_are_untouched() {
        let env = vec![var("A", "1"), var("B", "x".repeat(MAX_ENV_VALUE_BYTES))];
        assert_eq!(deliver_env(env.clone()), (env, Vec::new()));
    }

    #[test]
    fn a_value_over_the_limit_becomes_a_file_and_its_variable_points_at_it() {
        let big = "v".repeat(MAX_ENV_VALUE_BYTES + 1);
        let env = vec![
            var("A", "1"),
            var("CO_INPUT_TEXT", big.clone()),
            var("Z", "2"),
        ];
        let (vars, files) = deliver_env(env);
        assert_eq!(
            vars,
            [
                var("A", "1"),
                var("CO_INPUT_TEXT_FILE", "/run/containerops/env/CO_INPUT_TEXT"),
                var("Z", "2")
            ]
        );
        assert_eq!(
            files,
            [EnvFile {
                name: "CO_INPUT_TEXT".into(),
                path: "/run/containerops/env/CO_INPUT_TEXT".into(),
                content: big
            }]
        );
    }

    #[test]
    fn the_largest_variables_move_until_the_rest_fits() {
        // Ten values of 30 KiB each: 300 KiB, over the total; each one alone is allowed.
        let mut env: Vec<(String, String)> = (0..10)
            .map(|i| var(&format!("V{i}"), "x".repeat(30 * 1024)))
            .collect();
        env[7].1.push_str("longer");
        let (vars, files) = deliver_env(env);
        let moved: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        // The longest (V7) first, then the first of the equal ones (V0); files keep the
        // variables' order.
        assert_eq!(moved, ["V0", "V7"]);
        let total: usize = vars.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        assert!(total <= MAX_ENV_BYTES, "{total}");
        assert_eq!(vars[0], var("V0_FILE", "/run/containerops/env/V0"));
    }

    #[test]
    fn file_names_are_safe_and_unique() {
        let big = || "b".repeat(MAX_ENV_VALUE_BYTES + 1);
        let env = vec![
            var("../etc/x", big()),
            var("..", big()),
            var("A/B", big()),
            var("A_B", big()),
            var("A_B_FILE", "given"),
        ];
        let (vars, files) = deliver_env(env);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/run/containerops/env/.._etc_x",
                "/run/containerops/env/_..",
                "/run/containerops/env/A_B",
                "/run/containerops/env/A_B.2",
            ]
        );
        // Our pointer replaces a variable of the same name.
        assert_eq!(
            vars.iter()
                .filter(|(k, _)| k == "A_B_FILE")
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>(),
            ["/run/containerops/env/A_B.2"]
        );
    }
}
