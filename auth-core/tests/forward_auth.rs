//! Forward authentication (docs/contract/9-forward-auth.md) on both
//! backends: the site rules, the decision on a proxied request, a rule
//! changed through one server seen by another, and `next` after login.

use crate::common;

use auth_core::{
    totp_code, Auth, AuthError, Clock, ForwardDecision, Identifier, MfaMethod, NewSite, NextTarget,
    SITE_RULES_TTL_MS,
};
use common::*;
use data_encoding::BASE32_NOPAD;

on_both_backends! {
    each_rule_decides_its_case => each_rule_decides_its_case_sqlite, each_rule_decides_its_case_postgres;
    a_second_factor_login_is_recorded_on_its_session => a_second_factor_login_is_recorded_on_its_session_sqlite, a_second_factor_login_is_recorded_on_its_session_postgres;
    a_rule_changed_through_one_server_reaches_another => a_rule_changed_through_one_server_reaches_another_sqlite, a_rule_changed_through_one_server_reaches_another_postgres;
    sites_are_administered_with_one_line_errors => sites_are_administered_with_one_line_errors_sqlite, sites_are_administered_with_one_line_errors_postgres;
    racing_adds_of_one_host_protect_it_once => racing_adds_of_one_host_protect_it_once_sqlite, racing_adds_of_one_host_protect_it_once_postgres;
    next_goes_only_to_protected_hosts => next_goes_only_to_protected_hosts_sqlite, next_goes_only_to_protected_hosts_postgres;
}

fn site(host: &str) -> NewSite {
    NewSite {
        host: host.into(),
        ..NewSite::default()
    }
}

async fn decide(auth: &Auth, url: &str, token: Option<&str>) -> ForwardDecision {
    auth.forward_auth(url, token).await.unwrap()
}

fn allowed_as(decision: &ForwardDecision) -> Option<&str> {
    match decision {
        ForwardDecision::Allowed(user) => Some(user.display_name()),
        _ => None,
    }
}

async fn each_rule_decides_its_case(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    register(&auth, "denna", GOOD).await;
    auth.add_site(site("App.Example.com"), &auth_core::ClientInfo::default())
        .await
        .unwrap();
    auth.add_site(
        NewSite {
            host: "wiki.example.com:8443".into(),
            allowed_users: vec!["Kvothe".into()],
            ..NewSite::default()
        },
        &auth_core::ClientInfo::default(),
    )
    .await
    .unwrap();
    auth.add_site(
        NewSite {
            host: "vault.example.com".into(),
            second_factor_required: true,
            ..NewSite::default()
        },
        &auth_core::ClientInfo::default(),
    )
    .await
    .unwrap();
    let kvothe = login(&auth, "kvothe", GOOD).await.unwrap();
    let denna = login(&auth, "denna", GOOD).await.unwrap();
    let (k, d) = (Some(kvothe.token.expose()), Some(denna.token.expose()));

    // A registered host: anyone signed in, compared case-insensitively,
    // with or without the scheme's default port.
    for url in [
        "https://app.example.com/",
        "https://APP.example.COM:443/x?y=z",
        "http://app.example.com/",
    ] {
        assert_eq!(
            allowed_as(&decide(&auth, url, k).await),
            Some("kvothe"),
            "{url}"
        );
        assert_eq!(
            decide(&auth, url, None).await,
            ForwardDecision::NoSession,
            "{url}"
        );
        assert_eq!(
            decide(&auth, url, Some("not-a-token")).await,
            ForwardDecision::NoSession
        );
    }
    // Another port, a suffix or prefix of the host, or an unregistered
    // host: refused, session or not.
    for url in [
        "https://app.example.com:8443/",
        "https://evilapp.example.com/",
        "https://app.example.com.evil.example/",
        "https://example.com/",
        "https://app.example.com@evil.example/",
        "not a url",
        "ftp://app.example.com/",
    ] {
        assert_eq!(
            decide(&auth, url, k).await,
            ForwardDecision::Forbidden,
            "{url}"
        );
        assert_eq!(
            decide(&auth, url, None).await,
            ForwardDecision::Forbidden,
            "{url}"
        );
    }
    // An allow list: only its accounts.
    let wiki = "https://wiki.example.com:8443/page";
    assert_eq!(allowed_as(&decide(&auth, wiki, k).await), Some("kvothe"));
    assert_eq!(decide(&auth, wiki, d).await, ForwardDecision::Forbidden);
    assert_eq!(decide(&auth, wiki, None).await, ForwardDecision::NoSession);
    // A second factor required: a password-only session is not enough.
    let vault = "https://vault.example.com/";
    assert_eq!(
        decide(&auth, vault, k).await,
        ForwardDecision::SecondFactorRequired
    );
    // A session ended at authd is no session, whatever the proxy remembers.
    auth.destroy_session(kvothe.token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(
        decide(&auth, "https://app.example.com/", k).await,
        ForwardDecision::NoSession
    );

    // Deleting the only listed account closes the site; it never opens it.
    auth.delete_user(&Identifier::Any("kvothe".into()), &client())
        .await
        .unwrap();
    let listed = auth.list_sites().await.unwrap();
    let wiki_site = listed.iter().find(|s| s.host == "wiki.example.com:8443");
    assert_eq!(wiki_site.unwrap().allowed_users, Some(vec![]));
    assert_eq!(decide(&auth, wiki, d).await, ForwardDecision::Forbidden);
}

async fn a_second_factor_login_is_recorded_on_its_session(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    auth.add_site(
        NewSite {
            host: "vault.example.com".into(),
            second_factor_required: true,
            allowed_users: vec!["kvothe".into()],
        },
        &auth_core::ClientInfo::default(),
    )
    .await
    .unwrap();
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    assert_eq!(session.session.second_factor_at, None);
    let enrolment = auth.begin_totp(session.token.expose()).await.unwrap();
    let secret = BASE32_NOPAD.decode(enrolment.secret.as_bytes()).unwrap();
    auth.confirm_totp(
        session.token.expose(),
        &totp_code(&secret, clock.now()),
        &client(),
    )
    .await
    .unwrap();
    clock.advance(auth_core::TOTP_STEP_SECS);
    let vault = "https://vault.example.com/";
    // The session that enrolled was opened by a password alone.
    assert_eq!(
        decide(&auth, vault, Some(session.token.expose())).await,
        ForwardDecision::SecondFactorRequired
    );
    let mfa_token = match login(&auth, "kvothe", GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            assert!(methods.contains(&MfaMethod::Totp));
            mfa_token
        }
        other => panic!("expected a second step, got {other:?}"),
    };
    let done = auth
        .complete_mfa(
            mfa_token.expose(),
            &totp_code(&secret, clock.now()),
            None,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(done.session.second_factor_at, Some(clock.now()));
    let signed_in = auth
        .get_user_from_session_id(done.token.expose())
        .await
        .unwrap();
    assert_eq!(signed_in.session.second_factor_at, Some(clock.now()));
    assert_eq!(
        allowed_as(&decide(&auth, vault, Some(done.token.expose())).await),
        Some("kvothe")
    );
}

async fn a_rule_changed_through_one_server_reaches_another(db: TestDb) {
    let (first, first_clock) = open(&db).await;
    let (second, _) = open(&db).await;
    register(&first, "kvothe", GOOD).await;
    let token = login(&first, "kvothe", GOOD).await.unwrap().token;
    let token = Some(token.expose());
    let url = "https://app.example.com/";
    // The first server reads the rules (none yet) and keeps them.
    assert_eq!(decide(&first, url, token).await, ForwardDecision::Forbidden);

    second
        .add_site(site("app.example.com"), &auth_core::ClientInfo::default())
        .await
        .unwrap();
    // The server that made the change knows it at once.
    assert!(allowed_as(&decide(&second, url, token).await).is_some());
    // Another one within SITE_RULES_TTL_MS (its copy is younger than that)...
    first_clock.advance_ms(SITE_RULES_TTL_MS - 1);
    assert_eq!(decide(&first, url, token).await, ForwardDecision::Forbidden);
    // ...and after it, at its next request.
    first_clock.advance_ms(1);
    assert_eq!(
        allowed_as(&decide(&first, url, token).await),
        Some("kvothe")
    );

    // A site made stricter, or deleted, reaches it the same way.
    second
        .delete_site("APP.example.com", &auth_core::ClientInfo::default())
        .await
        .unwrap();
    second
        .add_site(
            NewSite {
                host: "app.example.com".into(),
                second_factor_required: true,
                ..NewSite::default()
            },
            &auth_core::ClientInfo::default(),
        )
        .await
        .unwrap();
    first_clock.advance_ms(SITE_RULES_TTL_MS);
    assert_eq!(
        decide(&first, url, token).await,
        ForwardDecision::SecondFactorRequired
    );
    second
        .delete_site("app.example.com", &auth_core::ClientInfo::default())
        .await
        .unwrap();
    first_clock.advance_ms(SITE_RULES_TTL_MS);
    assert_eq!(decide(&first, url, token).await, ForwardDecision::Forbidden);
}

async fn sites_are_administered_with_one_line_errors(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    auth.register_user(mailed("denna@example.com", GOOD), &client())
        .await
        .unwrap();
    let added = auth
        .add_site(
            NewSite {
                host: "Wiki.Example.com".into(),
                second_factor_required: true,
                allowed_users: vec!["kvothe".into(), "DENNA@example.com".into(), "Kvothe".into()],
            },
            &auth_core::ClientInfo::default(),
        )
        .await
        .unwrap();
    assert_eq!(added.host, "wiki.example.com");
    assert!(added.second_factor_required);
    let mut names = added.allowed_users.clone().unwrap();
    names.sort();
    assert_eq!(names, ["denna@example.com", "kvothe"]);
    auth.add_site(
        site("app.example.com:8080"),
        &auth_core::ClientInfo::default(),
    )
    .await
    .unwrap();
    let listed = auth.list_sites().await.unwrap();
    let hosts: Vec<&str> = listed.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(hosts, ["app.example.com:8080", "wiki.example.com"]);
    assert_eq!(listed[0].allowed_users, None);
    assert!(!listed[0].second_factor_required);

    let refused = |result: Result<_, AuthError>| match result {
        Err(AuthError::InvalidField { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(
            auth.add_site(site("WIKI.example.com"), &auth_core::ClientInfo::default())
                .await
        ),
        "host: this host is already protected"
    );
    for bad in [
        "https://x.example.com",
        "x.example.com/path",
        "*.example.com",
        "",
    ] {
        let message = refused(
            auth.add_site(site(bad), &auth_core::ClientInfo::default())
                .await,
        );
        assert!(message.starts_with("host: "), "{bad:?}: {message}");
    }
    let unknown = auth
        .add_site(
            NewSite {
                host: "other.example.com".into(),
                allowed_users: vec!["kvothe".into(), "nobody".into()],
                ..NewSite::default()
            },
            &auth_core::ClientInfo::default(),
        )
        .await;
    assert_eq!(refused(unknown), "allow_user: no account named nobody");
    assert_eq!(
        auth.list_sites().await.unwrap().len(),
        2,
        "nothing half-added"
    );

    assert!(matches!(
        auth.delete_site("other.example.com", &auth_core::ClientInfo::default())
            .await,
        Err(AuthError::NotFound)
    ));
    auth.delete_site("app.example.com:8080", &auth_core::ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(auth.list_sites().await.unwrap().len(), 1);
}

async fn racing_adds_of_one_host_protect_it_once(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let (other, _) = open(&db).await;
    let adds = (0..6).map(|i| {
        let auth = if i % 2 == 0 {
            auth.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            auth.add_site(site("app.example.com"), &auth_core::ClientInfo::default())
                .await
        })
    });
    let mut won = 0;
    for add in futures_join(adds).await {
        match add {
            Ok(_) => won += 1,
            Err(AuthError::InvalidField { field: "host", .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(auth.list_sites().await.unwrap().len(), 1);
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}

async fn next_goes_only_to_protected_hosts(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    auth.add_site(site("app.example.com"), &auth_core::ClientInfo::default())
        .await
        .unwrap();
    auth.add_site(
        site("wiki.example.com:8443"),
        &auth_core::ClientInfo::default(),
    )
    .await
    .unwrap();
    let target = |next: &'static str| {
        let auth = auth.clone();
        async move { auth.next_target(next).await.unwrap() }
    };
    assert_eq!(
        target("https://App.example.com/page?x=1#top").await,
        Some(NextTarget::ProtectedSite(
            "https://app.example.com/page?x=1#top".into()
        ))
    );
    assert_eq!(
        target("http://wiki.example.com:8443/")
            .await
            .unwrap()
            .location(),
        "http://wiki.example.com:8443/"
    );
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "\\\\evil.example",
        "/\\evil.example",
        "https:/\\evil.example",
        "https:%2f%2fevil.example",
        "https%3A%2F%2Fevil.example",
        "https://app.example.com%2eevil.example/",
        "https://app.example.com@evil.example/",
        "https://app.example.com:443@evil.example/",
        "javascript://app.example.com/%0aalert(1)",
        "ftp://app.example.com/",
        "https://app.example.com\t.evil.example/",
        "https://app.example.com/\r\nSet-Cookie: x=y",
        " https://app.example.com/",
        "https://evilapp.example.com/",
        "https://app.example.com.evil.example/",
        "https://example.com/",
        "https://wiki.example.com/",
        "https://app.example.com:8443/",
        "/me",
        "/oauth/authorizex",
        "//oauth/authorize?client_id=x",
        "/oauth/authorize/../me",
        "https://evil.example/oauth/authorize?client_id=x",
        "",
    ] {
        assert_eq!(target(next).await, None, "{next:?}");
    }
    // authd's own authorization request (OpenID Connect sends its visitor
    // to log in with it) is the one same-origin next.
    assert_eq!(
        target("/oauth/authorize?client_id=x").await,
        Some(NextTarget::SameOrigin(
            "/oauth/authorize?client_id=x".into()
        ))
    );
}
