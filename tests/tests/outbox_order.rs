//! One key's events reach Kafka in commit order even when writers overlap: an
//! event whose transaction is still open is never overtaken by a later one of
//! its key that committed first.

use std::time::Duration;

use nova_core::events::envelope::Follow;
use nova_core::events::Event;
use nova_core::metrics::Metrics;
use nova_e2e::Stack;
use tokio::sync::oneshot;
use uuid::Uuid;

#[tokio::test]
async fn overlapping_writers_of_a_key_publish_in_commit_order() {
    let stack = Stack::start().await.expect("stack starts");
    let metrics = Metrics::new("order-test");
    let db = nova_core::db::Db::connect_and_migrate(
        &stack.database_url("content"),
        nova_core::db::PoolSizes {
            requests: 8,
            background: 2,
        },
        &nova_content::MIGRATOR,
        metrics.sql_statements.clone(),
        Duration::from_secs(10),
    )
    .await
    .expect("content database");

    // Per round, on a fresh key: a slow writer enqueues and holds its transaction
    // open for 300 ms; a quick writer of the same key starts once it has enqueued. The
    // quick one's event must come second: it cannot commit ahead of the slow one.
    let rounds = 10;
    let mut expected = Vec::new();
    for _ in 0..rounds {
        let key = Uuid::now_v7();
        let (slow, quick) = (Uuid::now_v7(), Uuid::now_v7());
        expected.push((key, vec![slow, quick]));
        let write = |followee: Uuid, hold: Duration, enqueued: oneshot::Sender<()>| {
            let db = db.clone();
            async move {
                let mut tx = db.begin().await.unwrap();
                let event = Event::Followed(Follow {
                    follower_id: key,
                    followee_id: followee,
                });
                nova_core::events::enqueue(&db, &mut tx, &event)
                    .await
                    .unwrap();
                let _ = enqueued.send(());
                // The overlap under test: the transaction stays open this long.
                tokio::time::sleep(hold).await;
                tx.commit().await.unwrap();
            }
        };
        let (slow_enqueued, slow_has_enqueued) = oneshot::channel();
        let slow_writer = tokio::spawn(write(slow, Duration::from_millis(300), slow_enqueued));
        slow_has_enqueued.await.expect("the slow writer enqueued");
        let quick_writer = tokio::spawn(write(quick, Duration::ZERO, oneshot::channel().0));
        slow_writer.await.unwrap();
        quick_writer.await.unwrap();
    }

    // content's own relay publishes its outbox (follows go to nova.social) as each
    // commit lands, woken by NOTIFY.
    let envelopes = stack.read_topic("nova.social", 2 * rounds).await;
    for (key, written) in expected {
        let published: Vec<Uuid> = envelopes
            .iter()
            .filter(|e| e["payload"]["followerId"] == key.to_string())
            .map(|e| {
                e["payload"]["followeeId"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            published, written,
            "key {key}: the slow writer's event first"
        );
    }
}
