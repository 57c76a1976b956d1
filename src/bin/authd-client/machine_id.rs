//! The machine ID: an HMAC keyed with this computer's identity, never the identity itself.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The message the machine identity is HMAC'd over.
const MACHINE_ID_MESSAGE: &[u8] = b"authd-client machine-id v1";

/// The machine ID from `--machine-id-file`, or from the operating system.
pub(crate) fn machine_id_of_this_computer(file: Option<&Path>) -> Result<String, String> {
    match file {
        Some(path) => machine_id_from_file(path),
        None => os_machine_id(),
    }
}

/// The machine ID from the identity text in `path`.
pub(crate) fn machine_id_from_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the machine identity from {}: {e}",
            path.display()
        )
    })?;
    machine_id(&text).ok_or_else(|| format!("the machine identity in {} is empty", path.display()))
}

#[cfg(target_os = "linux")]
pub(crate) fn os_machine_id() -> Result<String, String> {
    const FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
    let mut reasons = Vec::new();
    for file in FILES {
        match machine_id_from_file(Path::new(file)) {
            Ok(machine_id) => return Ok(machine_id),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(format!(
        "no machine identity on this computer ({}); use --machine-id-file PATH",
        reasons.join("; ")
    ))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn os_machine_id() -> Result<String, String> {
    let text = machine_uid::get().map_err(|e| {
        format!("cannot read this computer's machine identity: {e}; use --machine-id-file PATH")
    })?;
    machine_id(&text).ok_or_else(|| {
        "this computer's machine identity is empty; use --machine-id-file PATH".to_owned()
    })
}

/// Lowercase hex of HMAC-SHA256 keyed with the identity text (surrounding
/// white space removed) over `authd-client machine-id v1`; `None` when the
/// text is only white space. The raw identity never leaves the computer.
#[allow(
    clippy::expect_used,
    reason = "HMAC takes a key of any length: new_from_slice cannot fail"
)]
pub(crate) fn machine_id(identity_text: &str) -> Option<String> {
    let identity = identity_text.trim();
    if identity.is_empty() {
        return None;
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(identity.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(MACHINE_ID_MESSAGE);
    Some(hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity used below, and its machine ID computed apart with
    /// `python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef0123456789abcdef",
    /// b"authd-client machine-id v1", hashlib.sha256).hexdigest())'`.
    const IDENTITY: &str = "0123456789abcdef0123456789abcdef";
    const IDENTITY_MACHINE_ID: &str =
        "bd92666b91c8c2f89f4d41f8f866e6f48ab10e5253301c59091668a9eb8b3478";
    #[test]
    fn the_machine_id_is_the_hmac_of_the_message_keyed_with_the_identity() {
        assert_eq!(machine_id(IDENTITY).as_deref(), Some(IDENTITY_MACHINE_ID));
        // Non-ASCII identity text is keyed with its UTF-8 bytes (also from python3).
        assert_eq!(
            machine_id("ordinateur-à-Paris").as_deref(),
            Some("ba14000c3dc70f44abfb51b93e3c2933c83c77118f317baa41eb17a34f2da552")
        );
    }

    #[test]
    fn the_machine_id_is_neither_the_identity_nor_the_same_for_another_computer() {
        let id = machine_id(IDENTITY).unwrap();
        assert_eq!(id.len(), 64);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(!id.contains(IDENTITY));
        assert_ne!(
            machine_id("fedcba9876543210fedcba9876543210"),
            Some(id.clone())
        );
    }

    #[test]
    fn white_space_around_the_identity_is_ignored_and_blank_is_none() {
        assert_eq!(
            machine_id(&format!("  \t{IDENTITY}\r\n\n")).as_deref(),
            Some(IDENTITY_MACHINE_ID)
        );
        assert_eq!(machine_id(""), None);
        assert_eq!(machine_id(" \n\t "), None);
    }

    #[test]
    fn the_machine_id_file_is_read_and_an_empty_or_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("machine-id");
        std::fs::write(&file, format!("{IDENTITY}\n")).unwrap();
        assert_eq!(
            machine_id_of_this_computer(Some(&file)).as_deref(),
            Ok(IDENTITY_MACHINE_ID)
        );
        std::fs::write(&file, "\n").unwrap();
        let error = machine_id_from_file(&file).unwrap_err();
        assert!(error.contains("empty"), "{error}");
        let missing = dir.path().join("nothing-here");
        let error = machine_id_from_file(&missing).unwrap_err();
        assert!(error.contains("nothing-here"), "{error}");
    }
}
