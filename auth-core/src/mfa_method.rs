//! The ways to pass the second step of a login: a leaf, named by errors and
//! flows alike.

/// A way to pass the second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaMethod {
    /// A code of an authenticator app.
    Totp,
    /// One of the account's recovery codes.
    RecoveryCode,
    /// A passkey (WebAuthn assertion).
    Passkey,
}

impl MfaMethod {
    /// The contract's name of the method (`"totp"`, `"recovery_code"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Totp => "totp",
            MfaMethod::RecoveryCode => "recovery_code",
            MfaMethod::Passkey => "passkey",
        }
    }
}
