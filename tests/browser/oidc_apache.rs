//! A real relying party: Apache httpd with `mod_auth_openidc`, run with the
//! configuration docs/openid-connect.md shows (examples/openid-connect/,
//! its ports, folder and client replaced), protects a folder. Headless
//! Chromium opens a page there, is sent to authd, signs in with a password
//! and an authenticator-app code, allows the application, and lands on the
//! page, which shows the name from the ID token. authd at
//! `http://localhost:A` (its issuer: an `http://` `--public-url` is only
//! allowed on the loopback), the site at `http://localhost:S`.
//!
//! Needs Debian's `apache2` and `libapache2-mod-auth-openidc` besides the
//! browser: an ignored test; CI installs them and runs it with
//! `--include-ignored`, where it fails if one is missing.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;

use super::*;
use crate::common::{sqlite_url, Server};
use crate::forward_auth::{authd_ok, signed_up, PASSWORD};
use crate::mfa::{enrol_totp, totp};
use crate::proxies::{free_port, listening, Proxy};

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
/// What the documented file names, in the order the test replaces them.
const DOC_SITE_PORT: &str = "9090";
const DOC_AUTHD_PORT: &str = "9091";
const DOC_ROOT: &str = "/var/www/wiki";

/// The page behind authd: the ID token's `name`, through server-side includes.
const PAGE: &str = "<!doctype html>\n<title>Team wiki</title>\n\
    <p id=\"hello\">Hello, <!--#echo var=\"OIDC_CLAIM_name\" -->!</p>\n";

/// Fails the test when Apache or its module is missing.
fn require_apache() {
    let module = Path::new(MODULES).join("mod_auth_openidc.so");
    assert!(
        Path::new(APACHE).exists() && module.exists(),
        "this test needs Debian's apache2 and libapache2-mod-auth-openidc \
         (apt-get install apache2 libapache2-mod-auth-openidc): {APACHE}, {}",
        module.display()
    );
}

/// examples/openid-connect/apache.conf with the test's ports, folder and client.
fn documented(site: u16, authd: u16, root: &Path, client: (&str, &str)) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/openid-connect/apache.conf");
    let mut text = std::fs::read_to_string(path).unwrap();
    let passphrase = format!("test-passphrase-{site}-{authd}");
    for (documented, actual) in [
        (DOC_SITE_PORT, site.to_string()),
        (DOC_AUTHD_PORT, authd.to_string()),
        (DOC_ROOT, root.display().to_string()),
        ("CLIENT_ID", client.0.to_owned()),
        ("CLIENT_SECRET", client.1.to_owned()),
        ("CRYPTO_PASSPHRASE", passphrase),
    ] {
        assert!(text.contains(documented), "apache.conf names {documented}");
        text = text.replace(documented, &actual);
    }
    text
}

/// Apache in the foreground with a configuration of its own (no system
/// file): the documented site, and the modules it needs.
fn start_apache(dir: &Path, site: &str) -> Proxy {
    require_apache();
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    let modules: String = [
        ("mpm_prefork_module", "mod_mpm_prefork.so"),
        ("authn_core_module", "mod_authn_core.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authz_user_module", "mod_authz_user.so"),
        ("include_module", "mod_include.so"),
        ("auth_openidc_module", "mod_auth_openidc.so"),
    ]
    .iter()
    .map(|(name, file)| format!("LoadModule {name} {MODULES}/{file}\n"))
    .collect();
    // As root (CI), Apache's children run as nobody; elsewhere it stays
    // the user it is, and says so.
    let main = format!(
        "ServerRoot \"{d}\"\nServerName localhost\nPidFile {d}/apache.pid\n\
         ErrorLog {d}/apache-error.log\nLogLevel warn\nMutex file:{d} default\n\
         DefaultRuntimeDir {d}\nUser nobody\nGroup nogroup\n{modules}Include {d}/site.conf\n"
    );
    std::fs::write(dir.join("apache.conf"), main).unwrap();
    // A process group of its own: Apache signals its whole group when it
    // stops, which would otherwise be the test's.
    let child = Command::new(APACHE)
        .args(["-f", &format!("{d}/apache.conf"), "-DFOREGROUND"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Proxy(child)
}

#[tokio::test]
#[ignore = "needs chromium, chromium-driver, apache2 and libapache2-mod-auth-openidc"]
async fn mod_auth_openidc_signs_a_person_in_through_authd() {
    require_browser();
    require_apache();
    let dir = tempfile::tempdir().unwrap();
    // Apache's children (nobody, under root) read the pages and lock files here.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (site, authd_port) = (free_port(), free_port());
    let public_url = format!("http://localhost:{authd_port}");
    let bind = format!("127.0.0.1:{authd_port}");
    let database = sqlite_url(dir.path());
    let authd = Server::launch(
        dir.path(),
        &[
            "--bind",
            &bind,
            "--database",
            &database,
            "--public-url",
            &public_url,
            "--ip-rate-limit",
            "off",
        ],
    );

    // alice, with an authenticator app; the wiki, registered by the operator.
    let session = signed_up(&authd, "alice").await;
    let (secret, _) = enrol_totp(&authd, &session).await;
    let callback = format!("http://localhost:{site}/private/callback");
    let added = authd_ok(
        &authd,
        &database,
        &["client", "add", "Team wiki", "--redirect-uri", &callback],
    );
    let field = |name: &str| {
        added
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {added}"))
            .to_owned()
    };
    let (client_id, client_secret) = (field("client_id: "), field("client_secret: "));

    let root = dir.path().join("www");
    std::fs::create_dir_all(root.join("private")).unwrap();
    std::fs::write(root.join("private/index.html"), PAGE).unwrap();
    let conf = documented(site, authd_port, &root, (&client_id, &client_secret));
    let _apache = start_apache(dir.path(), &conf);
    listening(site).await;

    let (_driver, _port, _profile, browser) = desktop_browser().await;
    let page = format!("http://localhost:{site}/private/index.html");
    browser.goto(&page).await.expect("the protected page");
    let at = browser.current_url().await.expect("a URL");
    assert_eq!(at.port(), Some(authd_port), "not sent to authd: {at}");
    assert_eq!(at.path(), "/login");
    fill(&browser, "username", "alice").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;
    text_of(&browser, "form[action='/login/code']").await;
    // The next step's code: the enrolment spent this step's.
    fill(&browser, "code", &totp(&secret, 30)).await;
    submit(&browser).await;

    // The consent page names the application (the button first: the code
    // page's heading may still be there).
    assert_eq!(text_of(&browser, "button#allow").await, "Allow");
    assert_eq!(text_of(&browser, "h1").await, "Allow Team wiki?");
    snap_both(&browser, "oidc-apache-consent").await;
    click(&browser, Locator::Id("allow")).await;

    // mod_auth_openidc exchanged the code, checked the ID token against
    // authd's keys and sent the browser back to the page it asked for.
    let deadline = Instant::now() + Duration::from_secs(15);
    while browser.current_url().await.expect("a URL").as_str() != page {
        if Instant::now() > deadline {
            let at = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            let log =
                std::fs::read_to_string(dir.path().join("apache-error.log")).unwrap_or_default();
            panic!(
                "never back on {page}: at {at}:\n{source}\napache:\n{log}\nauthd:\n{}",
                authd.stderr()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        text_of(&browser, "#hello").await,
        "Hello, alice the tester!"
    );
    snap(&browser, "oidc-apache-page").await;

    // authd lists the wiki among alice's applications.
    visit(&browser, &public_url, "/me/apps", "applications").await;
    assert_eq!(text_of(&browser, ".apps .app-name").await, "Team wiki");
    snap_both(&browser, "oidc-apache-me-apps").await;
    browser.close().await.expect("the browser closes");
}

#[test]
fn the_chapter_shows_the_file_this_test_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chapter = std::fs::read_to_string(root.join("docs/openid-connect.md")).unwrap();
    let text = std::fs::read_to_string(root.join("examples/openid-connect/apache.conf")).unwrap();
    assert!(
        chapter.contains(&format!("```apache\n{text}```\n")),
        "docs/openid-connect.md must show examples/openid-connect/apache.conf as it is"
    );
}
