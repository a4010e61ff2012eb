//! A small `--flag value` parser: the CLI's contract is a handful of flags, not worth a
//! dependency that would double the build time.

use std::collections::HashMap;

/// Parsed command line: repeated flags keep every value in order; `--flag` without a value
/// (followed by another flag or nothing) is a switch.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, Vec<String>>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

/// Flags that never take a value.
const SWITCHES: &[&str] = &["json", "help", "fragmented", "verbose", "tls-accept-any"];

impl Args {
    pub fn parse(items: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut a = Args::default();
        let mut it = items.into_iter().peekable();
        while let Some(item) = it.next() {
            if let Some(name) = item.strip_prefix("--") {
                if let Some((k, v)) = name.split_once('=') {
                    a.values
                        .entry(k.to_string())
                        .or_default()
                        .push(v.to_string());
                } else if SWITCHES.contains(&name) {
                    a.switches.push(name.to_string());
                } else {
                    let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    a.values.entry(name.to_string()).or_default().push(v);
                }
            } else if item == "-h" {
                a.switches.push("help".into());
            } else if item == "-v" {
                a.switches.push("verbose".into());
            } else {
                a.positional.push(item);
            }
        }
        Ok(a)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.all(name).last().map(String::as_str)
    }

    pub fn req(&self, name: &str) -> Result<&str, String> {
        self.opt(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.opt(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("--{name}: not a number: {v:?}"))
            })
            .transpose()
    }

    /// Refuses flags the command does not know, so a typo is not silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        for k in self.values.keys().chain(self.switches.iter()) {
            if !known.contains(&k.as_str()) && k != "help" && k != "verbose" {
                return Err(format!("unknown flag --{k}"));
            }
        }
        Ok(())
    }
}
