//! The smoke journey `cargo xtask smoke` runs against a deployed Nova, here
//! against a fresh stack whose router serves only the persisted operations
//! (safelist on, as in production).

use nova_e2e::Stack;

#[tokio::test]
async fn the_smoke_journey_passes_through_a_safelisted_router() {
    let stack = Stack::start_with_router_env(&[("NOVA_SAFELIST", "true")])
        .await
        .expect("stack starts");
    let base = stack.router_url.trim_end_matches("/graphql");
    let mut steps = Vec::new();
    if let Err(error) = nova_smoke::run(base, |step| steps.push(step.name)).await {
        panic!("{error:#}\nsteps passed: {steps:?}\n{}", stack.logs());
    }
    assert_eq!(
        steps,
        [
            "register and log in (two people)",
            "profile edited and read by another",
            "followed, posted, post in the follower's feed",
            "chat message delivered live over WebSocket",
            "notification of the follow",
            "photo uploaded and processed to READY",
        ]
    );
}
