//! Registered apps, the orgs that installed them, and the tokens issued to them.
//! Refresh tokens rotate: each refresh spends the old one and issues a new pair.
//!
//! Every Get Org Access Token starts a token family; a refresh issues its pair in the
//! family of the refresh token it spent. In strict rotation (Auth0, Okta and Ory Hydra
//! reuse detection) presenting a spent refresh token revokes its whole family.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::crypto::{normalize_api_key, Rng};
use crate::error::OAuthError;
use crate::App;

/// The success body of both operations.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub scope: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// The grants that descend from one Get Org Access Token.
type FamilyId = u64;

struct RefreshGrant {
    client_id: String,
    org_id: String,
    expires_at_ms: u64,
    spent: bool,
    family: FamilyId,
}

/// Who an access token was issued to, and until when it is valid.
struct AccessGrant {
    client_id: String,
    org_id: String,
    expires_at_ms: u64,
    family: FamilyId,
}

/// A refresh refused because its token was used before: what the caller counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Spent or revoked; nothing else changed.
    Refused,
    /// Spent, in strict rotation: the token's family was revoked just now.
    FamilyRevoked,
}

/// Why a refresh failed, and whether it was a reuse.
#[derive(Debug)]
pub(crate) struct RefreshRefusal {
    pub error: OAuthError,
    pub reuse: Option<Reuse>,
}

impl From<OAuthError> for RefreshRefusal {
    fn from(error: OAuthError) -> RefreshRefusal {
        RefreshRefusal { error, reuse: None }
    }
}

/// Why a Bearer token is refused: Cobo answers each with a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessRefusal {
    Unknown,
    Expired,
    /// The token's app is gone, signs with another key, or the org uninstalled it.
    Revoked,
}

pub(crate) struct Registry {
    apps: HashMap<String, App>,
    grants: HashMap<String, RefreshGrant>,
    access: HashMap<String, AccessGrant>,
    next_family: FamilyId,
    revoked_families: HashSet<FamilyId>,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// Whether a spent refresh token presented again revokes its family.
    pub strict_rotation: bool,
}

impl Registry {
    pub fn new(access_ttl_secs: u64, refresh_ttl_secs: u64, strict_rotation: bool) -> Registry {
        Registry {
            apps: HashMap::new(),
            grants: HashMap::new(),
            access: HashMap::new(),
            next_family: 0,
            revoked_families: HashSet::new(),
            access_ttl_secs,
            refresh_ttl_secs,
            strict_rotation,
        }
    }

    /// Adds or replaces an app. A key that is not a valid Ed25519 public key is kept
    /// as given, so requests signed for it fail as an unregistered key would.
    pub fn register(&mut self, mut app: App) {
        if let Some(key) = normalize_api_key(&app.api_key) {
            app.api_key = key;
        }
        self.apps.insert(app.client_id.clone(), app);
    }

    /// Whether any app holds this (lower-case hex) key.
    pub fn key_registered(&self, api_key: &str) -> bool {
        self.apps.values().any(|a| a.api_key == api_key)
    }

    /// The app behind `client_id`, if the request was signed with its key.
    fn app_for(&self, client_id: &str, api_key: &str) -> Result<&App, OAuthError> {
        let app = self
            .apps
            .get(client_id)
            .ok_or_else(|| OAuthError::invalid_client(format!("unknown client_id {client_id}")))?;
        if app.api_key != api_key {
            return Err(OAuthError::invalid_client(
                "the API key is not the one registered for this client_id",
            ));
        }
        Ok(app)
    }

    fn check_installed(app: &App, org_id: &str) -> Result<(), OAuthError> {
        if app.orgs.iter().any(|o| o == org_id) {
            Ok(())
        } else {
            Err(OAuthError::unauthorized_client(format!(
                "the app {} is not installed in organization {org_id}",
                app.client_id
            )))
        }
    }

    /// Get Org Access Token (grant `org_implicit`).
    pub fn get(
        &mut self,
        client_id: &str,
        api_key: &str,
        org_id: &str,
        rng: &Rng,
        now_ms: u64,
    ) -> Result<TokenResponse, OAuthError> {
        Self::check_installed(self.app_for(client_id, api_key)?, org_id)?;
        self.next_family += 1;
        Ok(self.issue(client_id, org_id, self.next_family, rng, now_ms))
    }

    /// Refresh Org Access Token (grant `refresh_token`): spends `refresh_token`. A spent
    /// one presented again is refused and, in strict rotation, revokes its family.
    pub fn refresh(
        &mut self,
        client_id: &str,
        api_key: &str,
        refresh_token: &str,
        rng: &Rng,
        now_ms: u64,
    ) -> Result<TokenResponse, RefreshRefusal> {
        let app = self.app_for(client_id, api_key)?;
        let grant = self
            .grants
            .get(refresh_token)
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
        if grant.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was not issued to this client_id",
            )
            .into());
        }
        let family = grant.family;
        if grant.spent {
            let reuse = if self.strict_rotation && self.revoked_families.insert(family) {
                Reuse::FamilyRevoked
            } else {
                Reuse::Refused
            };
            let error = OAuthError::invalid_grant("the refresh token has already been used");
            return Err(RefreshRefusal { error, reuse: Some(reuse) });
        }
        if self.revoked_families.contains(&family) {
            let error = OAuthError::invalid_grant("the refresh token has been revoked");
            return Err(RefreshRefusal { error, reuse: Some(Reuse::Refused) });
        }
        if now_ms >= grant.expires_at_ms {
            return Err(OAuthError::invalid_grant("the refresh token has expired").into());
        }
        let org_id = grant.org_id.clone();
        // An org that uninstalled the app (re-registered without it) cannot refresh either.
        Self::check_installed(app, &org_id)?;
        if let Some(grant) = self.grants.get_mut(refresh_token) {
            grant.spent = true;
        }
        Ok(self.issue(client_id, &org_id, family, rng, now_ms))
    }

    /// A fresh pair in `family`. TTLs are read now, so a TTL change affects tokens issued
    /// after it.
    fn issue(
        &mut self,
        client_id: &str,
        org_id: &str,
        family: FamilyId,
        rng: &Rng,
        now_ms: u64,
    ) -> TokenResponse {
        let token = self.unbound_token(rng);
        self.access.insert(
            token.access_token.clone(),
            AccessGrant {
                client_id: client_id.to_owned(),
                org_id: org_id.to_owned(),
                expires_at_ms: now_ms.saturating_add(self.access_ttl_secs.saturating_mul(1000)),
                family,
            },
        );
        let expires_at_ms = now_ms.saturating_add(self.refresh_ttl_secs.saturating_mul(1000));
        self.grants.insert(
            token.refresh_token.clone(),
            RefreshGrant {
                client_id: client_id.to_owned(),
                org_id: org_id.to_owned(),
                expires_at_ms,
                spent: false,
                family,
            },
        );
        token
    }

    /// Revokes the families of `org_id`'s tokens, or with `expire_only` expires its
    /// access tokens. Returns how many access tokens were affected.
    pub fn revoke_org(&mut self, org_id: &str, expire_only: bool) -> usize {
        let mut affected = 0;
        for grant in self.access.values_mut().filter(|grant| grant.org_id == org_id) {
            affected += 1;
            if expire_only {
                grant.expires_at_ms = 0;
            } else {
                self.revoked_families.insert(grant.family);
            }
        }
        affected
    }

    /// The org a Bearer token acts for, if this registry issued it, it has not expired,
    /// `api_key` signed the request for the token's app, the org still has the app, and
    /// the token's family was not revoked.
    pub fn check_access(&self, access_token: &str, api_key: &str, now_ms: u64) -> Result<String, AccessRefusal> {
        let grant = self.access.get(access_token).ok_or(AccessRefusal::Unknown)?;
        if now_ms >= grant.expires_at_ms {
            return Err(AccessRefusal::Expired);
        }
        if self.revoked_families.contains(&grant.family) {
            return Err(AccessRefusal::Revoked);
        }
        let app = self.apps.get(&grant.client_id).ok_or(AccessRefusal::Revoked)?;
        if app.api_key != api_key || !app.orgs.contains(&grant.org_id) {
            return Err(AccessRefusal::Revoked);
        }
        Ok(grant.org_id.clone())
    }

    /// A well-formed token body that no grant backs: what faults show clients.
    pub fn unbound_token(&self, rng: &Rng) -> TokenResponse {
        TokenResponse {
            access_token: rng.token(),
            token_type: "Bearer",
            scope: "",
            expires_in: self.access_ttl_secs,
            refresh_token: rng.token(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn registry() -> (Registry, Rng) {
        let mut r = Registry::new(100, 10, false);
        r.register(App {
            client_id: "app".into(),
            api_key: KEY.to_uppercase(),
            orgs: vec!["org".into()],
        });
        (r, Rng::from_os().unwrap())
    }

    #[test]
    fn refresh_rotates_and_spends() {
        let (mut r, rng) = registry();
        let first = r.get("app", KEY, "org", &rng, 0).unwrap();
        assert_eq!(first.expires_in, 100);
        let second = r
            .refresh("app", KEY, &first.refresh_token, &rng, 1)
            .unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        let reuse = r
            .refresh("app", KEY, &first.refresh_token, &rng, 2)
            .unwrap_err();
        assert_eq!((reuse.error.status, reuse.error.error.as_str()), (400, "invalid_grant"));
        assert_eq!(reuse.reuse, Some(Reuse::Refused));
        let expired = r
            .refresh("app", KEY, &second.refresh_token, &rng, 10_001)
            .unwrap_err();
        assert_eq!(expired.error.error_description, "the refresh token has expired");
        assert_eq!(expired.reuse, None);
        assert_eq!(r.check_access(&first.access_token, KEY, 3), Ok("org".to_owned()), "not strict");
    }

    #[test]
    fn strict_reuse_revokes_the_family_once() {
        let (mut r, rng) = registry();
        r.strict_rotation = true;
        let first = r.get("app", KEY, "org", &rng, 0).unwrap();
        let second = r.refresh("app", KEY, &first.refresh_token, &rng, 1).unwrap();
        let third = r.refresh("app", KEY, &second.refresh_token, &rng, 2).unwrap();
        let other = r.get("app", KEY, "org", &rng, 3).unwrap();

        let reuse = r.refresh("app", KEY, &first.refresh_token, &rng, 4).unwrap_err();
        assert_eq!(reuse.error.error_description, "the refresh token has already been used");
        assert_eq!(reuse.reuse, Some(Reuse::FamilyRevoked));
        for access in [&first.access_token, &second.access_token, &third.access_token] {
            assert_eq!(r.check_access(access, KEY, 5), Err(AccessRefusal::Revoked));
        }
        let newest = r.refresh("app", KEY, &third.refresh_token, &rng, 5).unwrap_err();
        assert_eq!(
            (newest.error.error.as_str(), newest.error.error_description.as_str()),
            ("invalid_grant", "the refresh token has been revoked")
        );
        assert_eq!(newest.reuse, Some(Reuse::Refused));
        let again = r.refresh("app", KEY, &second.refresh_token, &rng, 6).unwrap_err();
        assert_eq!(again.reuse, Some(Reuse::Refused), "a family is revoked once");

        assert_eq!(r.check_access(&other.access_token, KEY, 7), Ok("org".to_owned()));
        assert!(r.refresh("app", KEY, &other.refresh_token, &rng, 7).is_ok());
    }

    #[test]
    fn access_tokens_expire_and_die_with_the_install() {
        let (mut r, rng) = registry();
        let token = r.get("app", KEY, "org", &rng, 0).unwrap().access_token;
        assert_eq!(r.check_access(&token, KEY, 99_999), Ok("org".to_owned()));
        assert_eq!(r.check_access(&token, KEY, 100_000), Err(AccessRefusal::Expired));
        assert_eq!(r.check_access("nope", KEY, 0), Err(AccessRefusal::Unknown));
        assert_eq!(r.check_access(&token, &"00".repeat(32), 0), Err(AccessRefusal::Revoked));
        r.register(App { client_id: "app".into(), api_key: KEY.into(), orgs: vec![] });
        assert_eq!(r.check_access(&token, KEY, 0), Err(AccessRefusal::Revoked));
    }

    #[test]
    fn uninstalled_org_and_foreign_key_are_refused() {
        let (mut r, rng) = registry();
        assert_eq!(r.get("app", KEY, "other", &rng, 0).unwrap_err().status, 403);
        assert_eq!(
            r.get("app", &"00".repeat(32), "org", &rng, 0)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(r.get("nope", KEY, "org", &rng, 0).unwrap_err().status, 401);
    }
}
