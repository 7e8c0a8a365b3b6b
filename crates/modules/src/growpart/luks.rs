//! Device-mapper devices as upstream's growpart treats them: a LUKS volume
//! is grown (after its partition) with the one-time key in
//! `/cc_growpart_keydata`, whose slot is then killed and the file removed;
//! any other mapping (LVM) is skipped.

use super::{Action, Outcome};
use crate::blockdev::{py_list, subp};
use crate::Ctx;
use base64::Engine;
use serde_json::Value;

const KEYDATA_PATH: &str = "/cc_growpart_keydata";

pub(crate) enum Mapped {
    /// Grow this partition first, then come back to the mapping.
    PartitionFirst(String),
    Done(Action, String),
}

/// The outcome for a mapped `blockdev` whose `/dev/dm-N` is `underlying`;
/// `Err` is the text of whatever failed (upstream catches every error).
pub(crate) fn mapped(
    ctx: &Ctx,
    blockdev: &str,
    underlying: &str,
    info: &[Outcome],
) -> Result<Mapped, String> {
    let partition = underlying_partition(ctx, blockdev)?;
    if !is_encrypted(ctx, underlying, &partition) {
        return Ok(Mapped::Done(
            Action::Skipped,
            format!("Resizing mapped device ({blockdev}) skipped as it is not encrypted."),
        ));
    }
    if !info.iter().any(|(entry, _, _)| *entry == partition) {
        return Ok(Mapped::PartitionFirst(partition));
    }
    let (action, msg) = resize_encrypted(ctx, blockdev, &partition)?;
    Ok(Mapped::Done(action, msg))
}

/// `dmsetup deps` names the one device under the mapping: `1 dependencies : (vdb1)`.
fn underlying_partition(ctx: &Ctx, blockdev: &str) -> Result<String, String> {
    let argv = ["dmsetup", "deps", "--options=devname", blockdev];
    let dep = subp(ctx.host, &argv, &[], None, &[0])
        .map_err(|e| e.to_string())?
        .stdout_str();
    if !dep.starts_with("1 depend") {
        return Err(format!(
            "Expecting '1 dependencies' from 'dmsetup'. Received: {dep}"
        ));
    }
    dep.split_once(": (")
        .map(|(_, rest)| rest.split(')').next().unwrap_or_default())
        .map(|name| format!("/dev/{name}"))
        .ok_or_else(|| {
            format!(
                "Ran `{}`, but received unexpected stdout: `{dep}`",
                py_list(&argv)
            )
        })
}

/// Upstream's `is_encrypted`: `cryptsetup status` on the mapping and
/// `isLuks` on the partition.
fn is_encrypted(ctx: &Ctx, blockdev: &str, partition: &str) -> bool {
    if ctx.host.which_target("cryptsetup").is_none() {
        log::debug!("cryptsetup not found. Assuming no encrypted partitions");
        return false;
    }
    if let Err(e) = subp(
        ctx.host,
        &["cryptsetup", "status", blockdev],
        &[],
        None,
        &[0],
    ) {
        if e.exit_code == Some(4) {
            log::debug!("Determined that {blockdev} is not encrypted");
        } else {
            log::warn!(
                "Received unexpected exit code {} from cryptsetup status. Assuming no encrypted partitions.",
                e.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
            );
        }
        return false;
    }
    if subp(
        ctx.host,
        &["cryptsetup", "isLuks", partition],
        &[],
        None,
        &[0],
    )
    .is_ok()
    {
        log::debug!("Determined that {blockdev} is encrypted");
        return true;
    }
    false
}

/// The key file is JSON: `{"key": "<base64>", "slot": N}`.
fn load_key(ctx: &Ctx) -> Option<(Vec<u8>, String)> {
    let text = ctx.host.read(KEYDATA_PATH).ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    let key = v.get("key")?.as_str()?;
    // Python's b64decode drops characters outside the alphabet.
    let clean: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .ok()?;
    let slot = ci_pyval::py_str(v.get("slot")?);
    Some((decoded, slot))
}

fn resize_encrypted(
    ctx: &Ctx,
    blockdev: &str,
    partition: &str,
) -> Result<(Action, String), String> {
    if !ctx.host.exists(KEYDATA_PATH) {
        return Ok((Action::Skipped, "No encryption keyfile found".into()));
    }
    let Some((key, slot)) = load_key(ctx) else {
        return Err(
            "Could not load encryption key. This is expected if the volume has been previously resized."
                .into(),
        );
    };
    let resized = subp(
        ctx.host,
        &["cryptsetup", "--key-file", "-", "resize", blockdev],
        &[],
        Some(&key),
        &[0],
    );
    // The key was for this one resize: kill its slot and drop the file
    // whether or not the resize worked.
    if let Err(e) = subp(
        ctx.host,
        &[
            "cryptsetup",
            "luksKillSlot",
            "--batch-mode",
            partition,
            &slot,
        ],
        &[],
        None,
        &[0],
    ) {
        log::warn!("Failed to kill luks slot after resizing encrypted volume: {e}");
    }
    if let Err(e) = ctx.host.remove_file(KEYDATA_PATH) {
        log::warn!("Failed to remove keyfile after resizing encrypted volume");
        log::debug!("{e}");
    }
    resized.map_err(|e| e.to_string())?;
    Ok((
        Action::Changed,
        format!("Successfully resized encrypted volume '{blockdev}'"),
    ))
}
