//! Command-line overrides (`-s key=value`) and the file's own keys, applied as dotted settings
//! over the defaults, and range errors blamed on the override that set the key.

use super::ConfigError;

/// Parses `key=value`; the value is read as a TOML value (`10`, `[20, 2]`, `0.9`, `true`,
/// `"x"`) and otherwise taken as a bare string (`geometric`).
pub fn parse_override(s: &str) -> Result<(String, toml::Value), ConfigError> {
    let (key, raw) = s
        .split_once('=')
        .ok_or_else(|| ConfigError::OverrideSyntax(s.to_string()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError::OverrideSyntax(s.to_string()));
    }
    let raw = raw.trim();
    // A line break would let the value's TOML set further keys, silently dropped.
    if raw.contains(['\n', '\r']) {
        return Err(ConfigError::Override {
            key: key.to_string(),
            detail: "the value contains a line break; give each key its own -s key=value".into(),
        });
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    Ok((key.to_string(), value))
}

/// A range error about a key an override set names that override (the last one setting the
/// key the message starts with), so the user is pointed at the command line, not the file.
pub(super) fn blame_override(e: ConfigError, overrides: &[String]) -> ConfigError {
    let ConfigError::Invalid(message) = e else {
        return e;
    };
    let about = |o: &&String| {
        let key = o.split_once('=').map_or("", |(k, _)| k.trim());
        !key.is_empty()
            && message
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with([' ', ':', '=']))
    };
    match overrides.iter().rev().find(about) {
        Some(o) => ConfigError::Override {
            key: o.clone(),
            detail: message,
        },
        None => ConfigError::Invalid(message),
    }
}

/// The keys of a config file as dotted `(key, value)` settings, each section's `kind` first:
/// applied like overrides, they fill what a partial section leaves out from the defaults
/// (`[schedule]` with only `target = 0.9` keeps the default schedule's kind and steps).
pub(super) fn file_settings(
    table: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, toml::Value)>,
) {
    let mut keys: Vec<&String> = table.keys().collect();
    keys.sort_by_key(|k| *k != "kind");
    for k in keys {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match &table[k] {
            toml::Value::Table(t) if !t.is_empty() => file_settings(t, &key, out),
            v => out.push((key, v.clone())),
        }
    }
}

/// Applies dotted overrides to a parsed file. A section the file leaves out stands for its
/// defaults, so it is filled in from `defaults` (the serialised default config) before a key
/// in it is set: `-s schedule.target=0.9` changes the default schedule's target instead of
/// making a schedule of nothing but a target. Changing the `kind` of such a filled-in section
/// keeps only what the overrides set there (the old kind's defaults may not exist in the new).
pub(super) fn apply_overrides(
    table: &mut toml::Table,
    defaults: &toml::Table,
    overrides: &[(String, toml::Value)],
) -> Result<(), ConfigError> {
    let mut filled: Vec<String> = Vec::new();
    let mut set: Vec<&str> = Vec::new();
    let within =
        |path: &str, prefix: &str| path == prefix || path.starts_with(&format!("{prefix}."));
    for (key, value) in overrides {
        let parts: Vec<&str> = key.split('.').collect();
        let (last, parents) = parts.split_last().expect("non-empty key");
        let mut t = &mut *table;
        let mut d = Some(defaults);
        let mut path = String::new();
        for p in parents {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(p);
            let default = d.and_then(|d| d.get(*p)).and_then(toml::Value::as_table);
            if !t.contains_key(*p) {
                t.insert(
                    p.to_string(),
                    toml::Value::Table(default.cloned().unwrap_or_default()),
                );
                if default.is_some() {
                    filled.push(path.clone());
                }
            }
            t = t
                .get_mut(*p)
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| ConfigError::Override {
                    key: key.clone(),
                    detail: format!("'{p}' is not a section"),
                })?;
            d = default;
        }
        if *last == "kind"
            && t.get("kind") != Some(value)
            && filled.iter().any(|f| within(&path, f))
        {
            t.retain(|k, _| set.iter().any(|s| within(s, &format!("{path}.{k}"))));
        }
        t.insert(last.to_string(), value.clone());
        set.push(key);
    }
    Ok(())
}
