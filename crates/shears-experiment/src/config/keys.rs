//! A value the config cannot take (an unknown key, a wrong type) blamed on the override that
//! set it, if one did, with the nearest known key suggested for an unknown one.

use super::ConfigError;

/// `path` is `key` or lies inside it.
fn within(path: &str, key: &str) -> bool {
    path == key || path.strip_prefix(key).is_some_and(|r| r.starts_with('.'))
}

/// The error `e` of deserialising the resolved config: blamed on the last override whose key
/// is the failing path, a section of it or a key inside it; else on the file `name`.
pub(super) fn value_error(
    e: &serde_path_to_error::Error<toml::de::Error>,
    name: &str,
    overrides: &[String],
    parsed: &[(String, toml::Value)],
    defaults: &toml::Table,
) -> ConfigError {
    let (path, message) = (e.path().to_string(), e.inner().message());
    let path = path.as_str();
    let unknown = unknown_field(message);
    let hint = unknown
        .and_then(|field| nearest_key(path, field, message, defaults))
        .map(|k| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    let blamed = parsed
        .iter()
        .map(|(key, _)| key)
        .zip(overrides)
        .rev()
        .find(|(key, _)| within(path, key) || within(key, path));
    match (blamed, unknown) {
        (Some((_, text)), Some(field)) => {
            let section = section_of(path, field);
            let place = if section.is_empty() {
                String::new()
            } else {
                format!(" in [{section}]")
            };
            ConfigError::Override {
                key: text.clone(),
                detail: format!("unknown key '{field}'{place}{hint}"),
            }
        }
        (Some((_, text)), None) => ConfigError::Override {
            key: text.clone(),
            detail: format!("{path}: {message}"),
        },
        (None, _) => ConfigError::Read {
            path: name.into(),
            detail: format!("{path}: {message}{hint}"),
        },
    }
}

/// The field of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// The dotted section holding `field` at `path` (`finetune` for `finetune.patiance`; the
/// path itself when it stops at the section, as for a tagged enum).
fn section_of<'a>(path: &'a str, field: &str) -> &'a str {
    match path.strip_suffix(field) {
        Some("") => "",
        Some(rest) if rest.ends_with('.') => &rest[..rest.len() - 1],
        _ => path,
    }
}

/// The known key of `field`'s section nearest to it by edit distance, as a dotted path, if
/// it is near enough to be a typo. Known keys: the section's keys in the default config
/// serialised to TOML, and the names serde's message expects (keys left out of the
/// defaults, such as `schedule.steps`).
fn nearest_key(path: &str, field: &str, message: &str, defaults: &toml::Table) -> Option<String> {
    let section = section_of(path, field);
    let mut table = Some(defaults);
    for part in section.split('.').filter(|p| !p.is_empty()) {
        table = table
            .and_then(|t| t.get(part))
            .and_then(toml::Value::as_table);
    }
    let mut known: Vec<&str> = table
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    known.extend(message.split('`').skip(3).step_by(2));
    let limit = (field.chars().count() / 3).clamp(1, 3);
    let (distance, key) = known
        .into_iter()
        .map(|k| (edit_distance(field, k), k))
        .min_by_key(|(d, _)| *d)?;
    (distance <= limit && distance > 0).then(|| {
        if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        }
    })
}

/// Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("patiance", "patience"), 1);
        assert_eq!(edit_distance("stpes", "steps"), 1);
        assert_eq!(edit_distance("finetun", "finetune"), 1);
        assert_eq!(edit_distance("abc", "xyz"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn the_unknown_field_and_its_section_come_from_the_message_and_path() {
        let m = "unknown field `patiance`, expected one of `mode`, `patience`";
        assert_eq!(unknown_field(m), Some("patiance"));
        assert_eq!(section_of("finetune.patiance", "patiance"), "finetune");
        assert_eq!(section_of("sedes", "sedes"), "");
        assert_eq!(section_of("finetune.optimizer", "x"), "finetune.optimizer");
        let defaults: toml::Table = toml::from_str("[finetune]\nmode = 1\n").unwrap();
        assert_eq!(
            nearest_key("finetune.patiance", "patiance", m, &defaults).as_deref(),
            Some("finetune.patience")
        );
        assert_eq!(nearest_key("finetune.zzz", "zzz", m, &defaults), None);
    }
}
