//! Live updates without Redis: nothing live can be delivered, and a
//! subscription that silently waits would look like a quiet conversation. An
//! open subscription ends with one `UNAVAILABLE` error when its subgraph loses
//! Redis, a new one is refused with it at once, writes still succeed, and once
//! Redis is back subscriptions deliver again.

use std::time::{Duration, Instant};

use nova_e2e::realtime::{
    error_codes_of, next_chat_event, send, start_direct, subscribe_chat, wait_for_subscribers,
};
use nova_e2e::{eventually, Stack};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn live_chat_reports_a_lost_redis_and_recovers_when_it_returns() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, ann_token) = stack.sign_up("ann").await;
    let (bob, bob_token) = stack.sign_up("bob").await;
    let conversation = start_direct(&stack, &ann_token, &bob).await;
    let mut bob_live = subscribe_chat(&stack, &bob_token, &conversation).await;
    wait_for_subscribers(&stack, "chat", 1.0).await;
    send(&stack, &ann_token, &conversation, "before", "k-1")
        .await
        .expect_ok();
    assert_eq!(
        next_chat_event(&mut bob_live).await["message"]["body"],
        "before"
    );

    // Redis goes away: the open subscription ends with UNAVAILABLE, then completes.
    let stopped = Instant::now();
    stack.stop_redis();
    let ended = bob_live
        .next_message(WAIT)
        .await
        .expect("the subscription ends");
    assert_eq!(error_codes_of(&ended), ["UNAVAILABLE"], "{ended}");
    let completed = bob_live.next_message(WAIT).await.expect("then completes");
    assert_eq!(completed["type"], "complete", "{completed}");
    let ended_after = stopped.elapsed();

    // Meanwhile a new subscription is refused at once, and writes still work.
    let started = Instant::now();
    let mut refused = subscribe_chat(&stack, &bob_token, &conversation).await;
    let answer = refused.next_message(WAIT).await.expect("an answer");
    assert_eq!(error_codes_of(&answer), ["UNAVAILABLE"], "{answer}");
    let refused_after = started.elapsed();
    assert!(refused_after < WAIT, "refused after {refused_after:?}");
    send(&stack, &ann_token, &conversation, "during", "k-2")
        .await
        .expect_ok();

    let chat = stack.subgraph_url("chat").to_string();
    assert_eq!(stack.metric_at(&chat, "nova_live_listening").await, 0.0);

    // Redis returns: chat listens again (its gauge says so), and subscribing works.
    stack.start_redis().expect("Redis restarts");
    let restarted = Instant::now();
    eventually(15, "chat listening on Redis again", &stack, || async {
        stack.metric_at(&chat, "nova_live_listening").await == 1.0
    })
    .await;
    let listening_after = restarted.elapsed();
    let mut live = subscribe_chat(&stack, &bob_token, &conversation).await;
    wait_for_subscribers(&stack, "chat", 1.0).await;
    send(&stack, &ann_token, &conversation, "after", "k-3")
        .await
        .expect_ok();
    assert_eq!(next_chat_event(&mut live).await["message"]["body"], "after");
    eprintln!(
        "Redis stopped: the open subscription ended {ended_after:?} after the stop; a new \
         one refused in {refused_after:?}; 0 sends failed; chat listening again \
         {listening_after:?} after Redis restarted, a new subscription delivered"
    );
}
