//! The accounts service (`src/auth/accounts.rs`) on a real store: a change is checked whole
//! and committed once, and announces itself with the right events (none offline).

use std::collections::BTreeMap;
use std::sync::Arc;

use pytorrentd::access::{Level, Role};
use pytorrentd::auth::accounts::{Accounts, SignOut, UserChange};
use pytorrentd::auth::users::{self, UserError};
use pytorrentd::auth::{AuthEvent, AuthState, sessions};
use pytorrentd::store::Store;

fn events(rx: &mut tokio::sync::broadcast::Receiver<AuthEvent>) -> Vec<String> {
    let mut v = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        v.push(match ev {
            AuthEvent::CredentialRevoked { credential } => format!("revoked {}", &credential[..8]),
            AuthEvent::UserSessionsRevoked { username } => format!("signed out {username}"),
            AuthEvent::UserChanged { username } => format!("changed {username}"),
        });
    }
    v
}

#[tokio::test]
async fn changes_are_checked_whole_committed_once_and_announced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let vars = [("PYTORRENT_DATA_DIR", dir.path().display().to_string())];
    let (cfg, _) = pytorrentd::config::Config::from_vars(
        vars.iter().map(|(k, v)| (k.to_string(), v.clone())),
        &Default::default(),
    )
    .expect("config");
    let auth = AuthState::new(&cfg);
    let mut rx = auth.events.subscribe();
    let accounts = Accounts::new(
        store.clone(),
        Some(&auth),
        Arc::new(|p: &str| p == "movies"),
    );

    accounts
        .create("boss", Some("boss-password"), Role::Admin, BTreeMap::new())
        .expect("admin");
    let grants: BTreeMap<String, Level> = [("movies".to_owned(), Level::Ro)].into();
    accounts
        .create("kid", Some("kid-password"), Role::User, grants)
        .expect("user");
    let nowhere: BTreeMap<String, Level> = [("nowhere".to_owned(), Level::Ro)].into();
    assert!(matches!(
        accounts.create("ghost", Some("ghost-password"), Role::User, nowhere),
        Err(UserError::UnknownProfile(_))
    ));
    assert!(users::get(&store, "ghost").expect("get").is_none());

    // Demoting the only admin fails, and takes the grant and password of the same change
    // down with it.
    let s1 = sessions::create_session(&store, "boss").expect("session");
    let change = UserChange {
        role: Some(Role::User),
        password: Some("a-new-password".into()),
        permissions: Some([("movies".to_owned(), Some(Level::Full))].into()),
    };
    assert!(matches!(
        accounts.update("boss", change, SignOut::Everywhere),
        Err(UserError::LastAdmin(_))
    ));
    let boss = users::get(&store, "boss").expect("get").expect("boss");
    assert_eq!(boss.role, Role::Admin);
    assert!(boss.permissions.is_empty());
    assert!(pytorrentd::auth::password::verify(
        "boss-password",
        boss.password_hash.as_deref().unwrap_or("")
    ));
    assert!(
        sessions::lookup_session(&store, &s1)
            .expect("lookup")
            .is_some()
    );
    assert_eq!(
        events(&mut rx),
        Vec::<String>::new(),
        "a refused change announces nothing"
    );

    // A grant to a missing profile is refused; removing one (its profile may be gone) is not.
    let bad = UserChange {
        permissions: Some([("nowhere".to_owned(), Some(Level::Ro))].into()),
        ..Default::default()
    };
    assert!(matches!(
        accounts.update("kid", bad, SignOut::Everywhere),
        Err(UserError::UnknownProfile(_))
    ));
    let remove = UserChange {
        permissions: Some([("gone".to_owned(), None), ("movies".to_owned(), None)].into()),
        ..Default::default()
    };
    let (kid, _) = accounts
        .update("kid", remove, SignOut::Everywhere)
        .expect("revoke");
    assert!(kid.permissions.is_empty());
    assert_eq!(events(&mut rx), vec!["changed kid"]);

    // The owner's own password change keeps the session it came from and ends the others,
    // one event per ended session; an administrator's reset signs the user out everywhere.
    let keep = sessions::create_session(&store, "kid").expect("session");
    let other = sessions::create_session(&store, "kid").expect("session");
    let own = UserChange {
        password: Some("kid-password-2".into()),
        ..Default::default()
    };
    let (_, ended) = accounts
        .update("kid", own, SignOut::AllBut(Some(sessions::digest(&keep))))
        .expect("own password");
    assert_eq!(ended, 1);
    assert!(
        sessions::lookup_session(&store, &keep)
            .expect("lookup")
            .is_some()
    );
    assert!(
        sessions::lookup_session(&store, &other)
            .expect("lookup")
            .is_none()
    );
    assert_eq!(
        events(&mut rx),
        vec![format!("revoked {}", &sessions::digest(&other)[..8])]
    );
    let reset = UserChange {
        password: Some("kid-password-3".into()),
        ..Default::default()
    };
    accounts
        .update("kid", reset, SignOut::Everywhere)
        .expect("reset");
    assert!(
        sessions::lookup_session(&store, &keep)
            .expect("lookup")
            .is_none()
    );
    assert_eq!(events(&mut rx), vec!["signed out kid"]);

    accounts.delete("kid").expect("delete");
    assert_eq!(events(&mut rx), vec!["signed out kid"]);

    // Offline (the CLI with the daemon stopped): the same checks, no events to send.
    let offline = Accounts::new(store.clone(), None, Arc::new(|_: &str| false));
    assert!(matches!(
        offline.create(
            "x",
            Some("x-password"),
            Role::User,
            [("movies".to_owned(), Level::Ro)].into()
        ),
        Err(UserError::UnknownProfile(_))
    ));
    offline.delete("boss").expect_err("the last admin stays");
    assert_eq!(events(&mut rx), Vec::<String>::new());
}
