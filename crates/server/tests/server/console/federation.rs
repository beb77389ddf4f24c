//! Federated credentials in the console: added, refused with the field
//! named, listed with the recent exchanges, changed and removed.

use robots_store::Backend;

use super::flows::log_in;
use crate::federation::{AUDIENCE, Issuer, IssuerKey, exchange, github_claims};
use crate::support::TestApp;
use crate::webdriver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_access_is_managed_on_the_robot_page() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |config| config.service.allow_insecure_issuers = true).await
    else {
        return;
    };
    let Some(browser) = Browser::start().await else { return };
    let key = IssuerKey::ec("k1");
    let issuer = Issuer::start(&[&key]).await;
    app.registry_fixture().await;
    log_in(&app, &browser, "alice").await;
    browser
        .goto(&format!("{}/orgs/acme/admin/robots/writer", app.base))
        .await;
    assert!(browser.page_text().await.contains("No federated credentials"));

    // Trusting every subject is refused, next to the field, and nothing typed is lost.
    browser.follow("Add federated credential").await;
    assert_eq!(
        browser.value("#issuer").await,
        "https://token.actions.githubusercontent.com",
        "GitHub's issuer is offered"
    );
    browser.type_into("#name", "github-main").await;
    browser.type_into("#issuer", &issuer.url).await;
    browser.type_into("#audience", AUDIENCE).await;
    browser.type_into("#subject", "*").await;
    browser
        .type_into("#conditions", "repository = acme/app\nref = refs/heads/main")
        .await;
    browser.follow("Add credential").await;
    assert!(
        browser.text("#subject-error").await.contains("would trust every value"),
        "{}",
        browser.page_text().await
    );
    assert_eq!(browser.value("#name").await, "github-main");
    assert!(browser.value("#conditions").await.contains("ref = refs/heads/main"));
    browser.screenshot("20-federated-credential-refused").await;

    browser.type_into("#subject", "repo:acme/app:ref:refs/heads/main").await;
    browser.follow("Add credential").await;
    let page = browser.page_text().await;
    assert!(page.contains("Federated credential github-main was added"), "{page}");
    let table = browser.text("#federated-heading + p + .table-wrap").await;
    assert!(
        table.contains("github-main") && table.contains("ref = refs/heads/main"),
        "{table}"
    );

    // An accepted exchange and a refused one show under Recent exchanges.
    let good = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main"));
    assert_eq!(exchange(&app, &good, "acme/writer").await.status, 200);
    let wrong_branch = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/dev"));
    assert_eq!(exchange(&app, &wrong_branch, "acme/writer").await.status, 400);
    app.flush_usage().await;
    browser.refresh().await;
    let page = browser.page_text().await;
    assert!(page.contains("Recent exchanges"), "{page}");
    assert!(page.contains("repo:acme/app:ref:refs/heads/main"), "{page}");
    assert!(
        page.contains("claim \"sub\" is \"repo:acme/app:ref:refs/heads/dev\""),
        "{page}"
    );
    assert!(page.contains("exchanged via github-main"), "{page}");
    browser.screenshot("21-keyless-access").await;

    // Change it: release branches instead of main.
    browser.follow("Change federated credential github-main").await;
    browser
        .type_into("#subject", "repo:acme/app:ref:refs/heads/release-*")
        .await;
    browser.type_into("#conditions", "ref = refs/heads/release-*").await;
    browser.follow("Save changes").await;
    assert!(browser.page_text().await.contains("was changed"));
    let release = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/release-7"));
    assert_eq!(exchange(&app, &release, "acme/writer").await.status, 200);
    assert_eq!(exchange(&app, &good, "acme/writer").await.status, 400);

    // Remove it, after a confirmation.
    browser.follow("Remove federated credential github-main").await;
    assert!(browser.page_text().await.contains("can no longer act as writer"));
    browser.follow("Remove credential").await;
    assert!(browser.page_text().await.contains("No federated credentials"));
    assert_eq!(exchange(&app, &release, "acme/writer").await.status, 400);
    browser.quit().await;
}
