//! The bodies of `/admin/users…`: what the routes read and answer, each
//! with the schema `/openapi.json` shows.

use auth_core::{AccessTokenInfo, AccountChanges, AccountDetails, Password, User};
use serde::{Deserialize, Serialize};

use crate::bodies::rfc3339;
use crate::error::ApiError;
use crate::request::{Body, RawBody, RequestCtx};

/// `GET /admin/users?q=&after=&limit=`; other parameters are ignored.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersQuery {
    /// A part of a username or e-mail, any case.
    pub(super) q: Option<String>,
    /// The `next` of the previous page.
    pub(super) after: Option<String>,
    /// Rows per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub(super) limit: Option<i64>,
}

/// Whether the account had a machine.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Unbound {
    pub(super) unbound: bool,
}

/// `POST /admin/users`: as `POST /users`, `password` optional.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "bob", "email": "bob@example.com"}))]
pub(crate) struct AdminNewUser {
    /// 1-64 characters of `A-Z a-z 0-9 . _ - @ +`.
    #[schema(nullable = false, pattern = "^[A-Za-z0-9._@+-]{1,64}$")]
    pub(super) username: Option<String>,
    /// An e-mail address.
    #[schema(nullable = false, max_length = 254)]
    pub(super) email: Option<String>,
    /// The password (the rules of `POST /users`); without it a reset link is sent.
    #[schema(nullable = false, min_length = 1, max_length = 1024)]
    pub(super) password: Option<String>,
    /// At most 200 characters.
    #[schema(nullable = false, max_length = 200)]
    pub(super) full_name: Option<String>,
    /// At most 100 characters.
    #[schema(nullable = false, max_length = 100)]
    pub(super) mothers_favorite_search_engine: Option<String>,
}

/// `POST /admin/users/{username}/password`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPassword {
    /// The new password.
    #[serde(deserialize_with = "crate::request::password")]
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    pub(super) password: Password,
}

/// `PATCH /admin/users/{username}`: only these members; `null` clears a text.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub(crate) struct AccountPatch {
    /// A new e-mail address, or `null` to remove it.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub(super) email: Option<Option<String>>,
    /// A new full name, or `null`.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub(super) full_name: Option<Option<String>>,
    /// A new search engine, or `null`.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub(super) mothers_favorite_search_engine: Option<Option<String>>,
    /// Disable (`true`) or enable (`false`) the account.
    #[schema(nullable = false)]
    pub(super) disabled: Option<bool>,
}

/// A member that is present: `Some(None)` for `null`.
fn some_value<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl AccountPatch {
    /// The body, with every member named by this route: an unknown member
    /// is 400 `unknown_field` (no mass assignment), an empty body 400
    /// `invalid_body`.
    pub(super) fn read(ctx: &RequestCtx, body: RawBody) -> Result<AccountPatch, ApiError> {
        let body = Body::parse(&ctx.headers, body)?;
        let members = body.members();
        if members.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "name at least one of email, full_name, mothers_favorite_search_engine, disabled",
            ));
        }
        if let Some(unknown) = members
            .keys()
            .find(|name| !PATCH_FIELDS.contains(&name.as_str()))
        {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!("{unknown} is not a field this route changes"),
            ));
        }
        let mut members = members.clone();
        for (name, value) in members.iter_mut() {
            if name == "disabled" {
                // A form sends `true` or `false` as text.
                if let Some(flag) = value.as_str().and_then(|t| t.parse::<bool>().ok()) {
                    *value = serde_json::Value::Bool(flag);
                }
                if !value.is_boolean() {
                    return Err(ApiError::bad_request(
                        "invalid_field",
                        "disabled must be a boolean",
                    ));
                }
            } else if !(value.is_string() || value.is_null()) {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{name} must be a string or null"),
                ));
            }
        }
        serde_json::from_value(serde_json::Value::Object(members)).map_err(|error| {
            ApiError::bad_request("invalid_field", format!("the body does not fit: {error}"))
        })
    }
}

/// The members `PATCH /admin/users/{username}` names.
const PATCH_FIELDS: [&str; 4] = [
    "email",
    "full_name",
    "mothers_favorite_search_engine",
    "disabled",
];

impl From<AccountPatch> for AccountChanges {
    fn from(patch: AccountPatch) -> Self {
        AccountChanges {
            email: patch.email,
            full_name: patch.full_name,
            mothers_favorite_search_engine: patch.mothers_favorite_search_engine,
            disabled: patch.disabled,
        }
    }
}

/// A page of accounts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserPage {
    pub(super) users: Vec<AdminUser>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(super) next: Option<String>,
}

/// An account as the admin API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminUser {
    pub(super) id: String,
    pub(super) username: Option<String>,
    pub(super) email: Option<String>,
    /// Whether the account proved it owns `email` (docs/contract/10-email.md).
    pub(super) email_verified: bool,
    pub(super) full_name: Option<String>,
    pub(super) mothers_favorite_search_engine: Option<String>,
    /// RFC 3339, UTC.
    pub(super) created_at: String,
    /// Whether an operator disabled it.
    pub(super) disabled: bool,
}

impl AdminUser {
    pub(super) fn of(user: &User) -> Self {
        AdminUser {
            id: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            full_name: user.full_name.clone(),
            mothers_favorite_search_engine: user.mothers_favorite_search_engine.clone(),
            created_at: rfc3339(user.created_at),
            disabled: user.disabled_at.is_some(),
        }
    }
}

/// An account with what an operator looks at.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminUserDetails {
    #[serde(flatten)]
    pub(super) user: AdminUser,
    /// The bound machine.
    pub(super) machine: Option<String>,
    /// An authenticator app is in force.
    pub(super) totp: bool,
    /// Unused recovery codes.
    pub(super) recovery_codes_left: i64,
    /// Passkeys.
    pub(super) passkeys: i64,
    /// Personal access tokens (never their secrets).
    pub(super) tokens: Vec<TokenBody>,
}

impl AdminUserDetails {
    pub(super) fn of(details: &AccountDetails) -> Self {
        AdminUserDetails {
            user: AdminUser::of(&details.user),
            machine: details.machine.clone(),
            totp: details.factors.totp,
            recovery_codes_left: details.factors.recovery_codes_left,
            passkeys: details.factors.passkeys,
            tokens: details.tokens.iter().map(TokenBody::of).collect(),
        }
    }
}

/// A personal access token, without its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenBody {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) scopes: Vec<String>,
    /// RFC 3339, UTC.
    pub(super) created_at: String,
    /// RFC 3339, UTC; `null` never expires.
    pub(super) expires_at: Option<String>,
}

impl TokenBody {
    pub(super) fn of(token: &AccessTokenInfo) -> Self {
        TokenBody {
            id: token.id.clone(),
            name: token.name.clone(),
            scopes: token.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
        }
    }
}
