//! S3 settings from Python: an `s3://bucket/prefix` URL plus the standard AWS variables,
//! each of which a `storage={...}` dict may override. The same shape for every call that
//! takes an object-storage location: the recorder's `upload=`, and the `root` of `ranges`,
//! `cameras`, `export` and `verify`.

use crate::errors;
use camwire::export::{ExportError, Storage};
use camwire::record::upload::S3Settings;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::Path;

/// The `storage` keys and the AWS variable each one stands in for.
const KEYS: [(&str, &str); 6] = [
    ("endpoint", "AWS_ENDPOINT_URL"),
    ("region", "AWS_REGION"),
    ("access_key_id", "AWS_ACCESS_KEY_ID"),
    ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
    ("session_token", "AWS_SESSION_TOKEN"),
    ("allow_http", "AWS_ALLOW_HTTP"),
];

/// Settings for `url`: the environment's AWS variables, overridden by `storage`. Unknown
/// keys are refused (a typo must not silently fall back to the environment). Credentials
/// never appear in the errors.
pub(crate) fn s3_settings(url: &str, storage: Option<&Bound<'_, PyDict>>) -> PyResult<S3Settings> {
    let mut given: Vec<(&'static str, String)> = Vec::new();
    let mut virtual_hosted = false;
    if let Some(d) = storage {
        for (k, v) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| errors::invalid_input("storage keys must be strings"))?;
            if k == "virtual_hosted_style" {
                virtual_hosted = v.is_truthy()?;
                continue;
            }
            let Some(&(_, var)) = KEYS.iter().find(|(name, _)| *name == k) else {
                return Err(errors::invalid_input(format!(
                    "unknown storage key {k:?} (known: endpoint, region, access_key_id, \
                     secret_access_key, session_token, allow_http, virtual_hosted_style)"
                )));
            };
            let value = if var == "AWS_ALLOW_HTTP" {
                if v.is_truthy()? { "true" } else { "false" }.to_string()
            } else {
                v.extract::<String>()
                    .map_err(|_| errors::invalid_input(format!("storage[{k:?}] must be a str")))?
            };
            given.push((var, value));
        }
    }
    let s = S3Settings::from_url(url).map_err(|e| errors::invalid_input(e.to_string()))?;
    let mut s = s.with_vars(|var| {
        given
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(var).ok())
    });
    s.virtual_hosted_style = virtual_hosted;
    Ok(s)
}

/// A recording root: `s3://bucket/prefix` (settings from the AWS variables and `storage`) or
/// a local directory (`storage` refused there: it would be silently meaningless).
pub(crate) fn root(
    root: &Path,
    storage: Option<&Bound<'_, PyDict>>,
) -> PyResult<Result<Storage, ExportError>> {
    match (root.to_str().filter(|r| r.starts_with("s3://")), storage) {
        (Some(url), Some(_)) => Ok(Storage::s3(s3_settings(url, storage)?)),
        (None, Some(_)) => Err(errors::invalid_input(
            "storage= goes with an s3://bucket/prefix root",
        )),
        (_, None) => Ok(Storage::open(root)),
    }
}
