//! `GET /openapi.json` (docs/contract/6-operations.md) against what the server serves:
//! every route of `auth_http::API_ROUTES` (the list the 404/405 fallback
//! uses) is described with exactly its methods, every described operation is
//! served and answers one of its described statuses with a body of the
//! described shape, and the description says what the contract asks of it
//! (both body encodings, the error shapes, the security schemes, `Retry-After`).

use crate::common;

mod oidc;

use std::collections::BTreeSet;

use auth_http::{API_ROUTES, OIDC_ROUTES};
use common::*;
use serde_json::{json as j, Value};
use warp::http::StatusCode;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "options", "head"];

/// The web pages (docs/contract/4-web-pages.md) and their stylesheet, which the description leaves out.
const WEB_PAGES: [&str; 5] = ["/signup", "/login", "/me", "/logout", "/static/style.css"];

async fn document(app: &TestApp) -> Value {
    let res = app.send(get("/openapi.json")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()
}

/// The methods of a path item, lowercase.
fn described_methods(item: &Value) -> BTreeSet<String> {
    METHODS
        .iter()
        .filter(|m| item.get(**m).is_some())
        .map(|m| m.to_string())
        .collect()
}

/// The methods of an `Allow` list, lowercase.
fn allow_methods(allow: &str) -> BTreeSet<String> {
    allow.split(',').map(|m| m.trim().to_lowercase()).collect()
}

/// Follows a local `$ref` (`#/components/...`) until a value that is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a non-local $ref: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("a dangling $ref: {reference}"));
    }
    value
}

/// Whether a described path is one of the OpenID Connect provider's
/// [`OIDC_ROUTES`] (HTML pages, redirects, forms and RFC 6749's errors),
/// not of the JSON API whose rules the tests below hold it to.
fn is_oidc(path: &str) -> bool {
    OIDC_ROUTES.iter().any(|(route, _)| *route == path)
}

/// Every (path, method, operation) of the description but the OpenID
/// Connect provider's ([`oidc_operations`]).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    all_operations(doc)
        .into_iter()
        .filter(|(path, _, _)| !is_oidc(path))
        .collect()
}

/// The OpenID Connect provider's operations.
fn oidc_operations(doc: &Value) -> Vec<(String, String, &Value)> {
    all_operations(doc)
        .into_iter()
        .filter(|(path, _, _)| is_oidc(path))
        .collect()
}

fn all_operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut all = Vec::new();
    for (path, item) in paths {
        for method in described_methods(item) {
            let operation = &item[method.as_str()];
            all.push((path.clone(), method, operation));
        }
    }
    all
}

/// A concrete path for a described one: `{id}` becomes a UUID no session has.
fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::new_v4().to_string())
}

#[tokio::test]
async fn the_description_is_openapi_3_json() {
    let app = TestApp::new().await;
    let res = app.send(get("/openapi.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let doc = res.json();
    let version = doc["openapi"].as_str().expect("an openapi member");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(!doc["paths"].as_object().expect("paths").is_empty());
    // The same bytes every time, and a trailing slash is the same route.
    assert_eq!(app.send(get("/openapi.json")).await.body, res.body);
    assert_eq!(app.send(get("/openapi.json/")).await.body, res.body);
}

#[tokio::test]
async fn every_served_route_is_described_with_exactly_its_methods() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let paths = doc["paths"].as_object().expect("paths");

    let served: BTreeSet<&str> = API_ROUTES
        .iter()
        .chain(OIDC_ROUTES)
        .map(|(path, _)| *path)
        .collect();
    let described: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        described, served,
        "described paths vs auth_http::API_ROUTES and OIDC_ROUTES"
    );

    for (path, allow) in API_ROUTES.iter().chain(OIDC_ROUTES) {
        assert_eq!(
            described_methods(&paths[*path]),
            allow_methods(allow),
            "methods of {path}"
        );
    }
    for page in WEB_PAGES {
        assert!(
            !paths.contains_key(page),
            "the web page {page} is described"
        );
    }
}

#[tokio::test]
async fn every_described_operation_is_served_as_described() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    for (path, method, operation) in operations(&doc) {
        let target = concrete(&path);
        let mut request = request(&method.to_uppercase(), &target);
        if operation.get("requestBody").is_some() {
            // An empty JSON object: a 400 `missing_field` for every body route.
            request = request
                .header("content-type", "application/json")
                .body("{}");
        }
        // Every answer is JSON (checked by `send`) but the Prometheus text.
        let res = if path == "/metrics" {
            app.reply(request).await
        } else {
            app.send(request).await
        };
        let status = res.status;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {target}: {status} {}",
            res.text()
        );
        let responses = &operation["responses"];
        let described = resolve(&doc, &responses[status.as_str()]);
        assert!(
            described.is_object(),
            "{method} {path} answered {status}, which it does not describe: {}",
            res.text()
        );
        check_body(&doc, &method, &path, described, &res);
    }
}

/// The body of a response against its described content: the media type, and
/// for a described object the required members and no others.
fn check_body(doc: &Value, method: &str, path: &str, described: &Value, res: &Res) {
    let Some(content) = described.get("content").and_then(Value::as_object) else {
        assert!(
            res.body.is_empty(),
            "{method} {path}: a body where none is described"
        );
        return;
    };
    let content_type = res.header("content-type").unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let media = content
        .iter()
        .find(|(media, _)| media.split(';').next().unwrap_or_default().trim() == essence)
        .map(|(_, media)| media)
        .unwrap_or_else(|| panic!("{method} {path}: content type {content_type} is not described"));
    let schema = resolve(doc, &media["schema"]);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let body = res.json();
    let object = body.as_object().expect("an object body");
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().expect("a member name");
        assert!(
            object.contains_key(name),
            "{method} {path}: no {name} in {body}"
        );
    }
    for name in object.keys() {
        assert!(
            properties.contains_key(name),
            "{method} {path}: undescribed member {name} in {body}"
        );
    }
}

#[tokio::test]
async fn other_methods_on_described_paths_get_405_with_the_described_methods() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let described = described_methods(item);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if described.contains(&method.to_lowercase()) {
                continue;
            }
            let res = app.send(request(method, &concrete(path))).await;
            if path == "/check" {
                // /check fails in its own shape (docs/contract/5-device-check.md), a 405 included.
                assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
                let body = res.json();
                assert_eq!(body["status"], "FAILED", "{body}");
                assert_eq!(body["error"], "method_not_allowed", "{body}");
            } else {
                res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
            }
            let allow = res.header("allow").expect("an Allow header");
            assert_eq!(allow_methods(allow), described, "Allow of {method} {path}");
        }
    }
}

#[tokio::test]
async fn request_bodies_take_a_form_or_json() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let mut with_body = 0;
    for (path, method, operation) in operations(&doc) {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        with_body += 1;
        let body = resolve(&doc, body);
        let types: BTreeSet<&str> = body["content"]
            .as_object()
            .expect("request content")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            types,
            BTreeSet::from(["application/json", "application/x-www-form-urlencoded"]),
            "{method} {path}"
        );
        for status in ["400", "413", "415"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{method} {path} has a body but no {status}"
            );
        }
    }
    // POST /users, POST /sessions, POST and PUT /reset_password, POST /password,
    // the four of the authenticator app and /sessions/mfa, and the six
    // passkey routes that take an answer, a token or a password; POST
    // /admin/users, PATCH /admin/users/{username} and its POST …/password;
    // POST /email; POST /admin/clients and /admin/sites.
    assert_eq!(with_body, 21);
}

/// Every member a request schema describes is one the handler reads: sent as
/// a number, it is refused as `invalid_field` naming it. (A member read only
/// without another, as `username` beside `email` for a reset, is tried alone
/// with the required ones.)
#[tokio::test]
async fn every_described_request_member_is_read_by_its_handler() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    // The admin routes read their bodies only for a token that may write.
    let admin = admin_token(&app).await;
    let concrete = |path: &str| path.replace("{username}", "root");
    let mut members = 0;
    for (path, method, operation) in operations(&doc) {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        let schema = resolve(
            &doc,
            &resolve(&doc, body)["content"]["application/json"]["schema"],
        );
        let properties = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}: a request schema without properties"));
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for member in properties.keys() {
            members += 1;
            let every: serde_json::Map<String, Value> = properties
                .keys()
                .map(|k| (k.clone(), j!("value")))
                .collect();
            let only_required: serde_json::Map<String, Value> = properties
                .keys()
                .filter(|k| required.contains(k.as_str()))
                .map(|k| (k.clone(), j!("value")))
                .collect();
            let mut answers = Vec::new();
            for mut body in [every, only_required] {
                body.insert(member.clone(), j!(5));
                let res = app
                    .send(
                        json(
                            &method.to_uppercase(),
                            &concrete(&path),
                            &Value::Object(body),
                        )
                        .header("cookie", cookie("not-a-session"))
                        .header("authorization", format!("Bearer {admin}")),
                    )
                    .await;
                let answer = res.json();
                if res.status == StatusCode::BAD_REQUEST
                    && answer["error"] == "invalid_field"
                    && answer["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(&format!("{member} must be a")))
                {
                    answers.clear();
                    break;
                }
                answers.push((res.status, answer));
            }
            assert!(
                answers.is_empty(),
                "{method} {path} does not read the described member {member}: {answers:?}"
            );
        }
    }
    // NewUser 5, Login 3, ResetRequest 2, ResetPassword 4, PasswordChange 2,
    // MfaCode 1, PasswordOnly 1 (three times), MfaStep 2; AddPasskey 3,
    // PasskeyAssertion 2, RemovePasskey 1, MfaTokenOnly 1, MfaPasskeyStep 3;
    // Admin: NewUser 5, AccountPatch 4, NewPassword 1, NewClient 5, NewSite 3; EmailChange 2.
    assert_eq!(members, 52);
}

#[tokio::test]
async fn errors_have_the_contract_shapes_and_429_says_when_to_retry() {
    let app = TestApp::new().await;
    let doc = document(&app).await;

    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], j!(["error", "message"]));
    let failure = &doc["components"]["schemas"]["CheckFailure"];
    let required: BTreeSet<&str> = failure["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, BTreeSet::from(["status", "error", "message"]));
    assert_eq!(failure["properties"]["status"]["enum"], j!(["FAILED"]));

    let mut throttled = 0;
    for (path, method, operation) in operations(&doc) {
        let expected = if path == "/check" {
            "#/components/schemas/CheckFailure"
        } else {
            "#/components/schemas/Error"
        };
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let code: u16 = status.parse().expect("a numeric status");
            let response = resolve(&doc, response);
            // The 401 of a login may also be `mfa_required`, which carries the second step.
            let expected = if path == "/sessions" && method == "post" && code == 401 {
                "#/components/schemas/LoginFailure"
            } else {
                expected
            };
            if code >= 400 && !(path == "/healthz" && code == 503) {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], expected,
                    "{method} {path} {status}"
                );
            }
            if code == 429 {
                throttled += 1;
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path}: 429 without Retry-After"
                );
            }
        }
    }
    // POST /users, POST /sessions, POST /reset_password, POST /password and
    // GET and POST /check; POST /sessions/mfa, DELETE /mfa/totp and POST
    // /mfa/recovery-codes; POST /mfa/passkeys/options, DELETE /mfa/passkeys/{id}
    // and POST /sessions/passkey, /sessions/passkey/options,
    // /sessions/mfa/passkey and its options; GET /profile (wrong bearer
    // tokens count) and the eighteen operations of the admin API; POST /email.
    assert_eq!(throttled, 35);
}

#[tokio::test]
async fn the_session_cookie_and_the_device_header_are_security_schemes() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["session_cookie"],
        j!({"type": "apiKey", "in": "cookie", "name": "session_id",
            "description": schemes["session_cookie"]["description"]})
    );
    assert_eq!(
        schemes["seek_custom_auth"],
        j!({"type": "apiKey", "in": "header", "name": "SEEK_CUSTOM_AUTH",
            "description": schemes["seek_custom_auth"]["description"]})
    );
    let secured = |path: &str, method: &str| {
        doc["paths"][path][method]["security"]
            .as_array()
            .map(|requirements| {
                requirements
                    .iter()
                    .flat_map(|r| r.as_object().into_iter().flatten())
                    .map(|(name, _)| name.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    for (path, method) in [
        ("/sessions", "get"),
        ("/sessions", "delete"),
        ("/sessions/{id}", "delete"),
        ("/password", "post"),
    ] {
        assert_eq!(secured(path, method), ["session_cookie"], "{method} {path}");
    }
    // A profile is read with the cookie or a bearer token of scope `profile`,
    // and every admin route with a bearer token.
    assert_eq!(
        secured("/profile", "get"),
        ["session_cookie", "access_token"]
    );
    assert_eq!(schemes["access_token"]["type"], "http");
    assert_eq!(schemes["access_token"]["scheme"], "bearer");
    for (path, method, operation) in operations(&doc) {
        if path.starts_with("/admin/") {
            let scope = if method == "get" {
                "admin:read"
            } else {
                "admin:write"
            };
            assert_eq!(
                operation["security"],
                j!([{"access_token": [scope]}]),
                "{method} {path}"
            );
        }
    }
    assert_eq!(secured("/check", "get"), ["seek_custom_auth"]);
    assert_eq!(secured("/check", "post"), ["seek_custom_auth"]);
    assert!(secured("/sessions", "post").is_empty());

    // Operation IDs are unique, /check's two methods included.
    let ids: Vec<&str> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().expect("an operationId"))
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

#[tokio::test]
async fn a_signed_in_user_gets_described_answers() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let token = app.signed_in("bob@example.com").await;
    let described = |path: &str, method: &str, res: &Res| {
        let operation = &doc["paths"][path][method];
        let response = resolve(&doc, &operation["responses"][res.status.as_str()]);
        assert!(response.is_object(), "{method} {path}: {}", res.status);
        check_body(&doc, method, path, response, res);
    };

    let res = app
        .send(get("/profile").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    described("/profile", "get", &res);

    let res = app
        .send(get("/sessions").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    described("/sessions", "get", &res);
    let id = res.json()[0]["id"]
        .as_str()
        .expect("a session id")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "the id is a UUID: {id}");

    let res = app
        .send(form(
            "POST",
            "/reset_password",
            &[("email", "bob@example.com")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    described("/reset_password", "post", &res);

    let res = app
        .send(request("DELETE", &format!("/sessions/{id}")).header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    described("/sessions/{id}", "delete", &res);
}

/// A user `root` with a token of both admin scopes.
async fn admin_token(app: &TestApp) -> String {
    let registration = auth_core::Registration {
        username: Some("root".into()),
        password: auth_core::Password::new("correct horse battery staple"),
        ..auth_core::Registration::default()
    };
    app.auth
        .register_user(registration, &auth_core::ClientInfo::default())
        .await
        .unwrap();
    let new = auth_core::NewAccessToken {
        scopes: vec![auth_core::Scope::AdminRead, auth_core::Scope::AdminWrite],
        ..auth_core::NewAccessToken::default()
    };
    let (_, token) = app
        .auth
        .add_access_token(
            &auth_core::Identifier::Any("root".into()),
            new,
            &auth_core::ClientInfo::default(),
        )
        .await
        .unwrap();
    token.expose().to_owned()
}
