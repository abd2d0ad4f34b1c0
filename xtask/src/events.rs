//! `cargo xtask events tail <topic>`: print a topic's events as they arrive (the
//! operator's view); `cargo xtask events dlq list|replay <consumer>`: the
//! dead-letter topic (`nova_core::events::dead_letter`); `cargo xtask bench events`: produce and consume
//! throughput on the local broker, and the outbox's write-to-consumer delay.
//! Both use the services' own Kafka client (`nova_core::events`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use nova_core::events::dead_letter;
use nova_core::events::envelope::PostCreated;
use nova_core::events::{Envelope, Event, EventMetrics, KafkaConfig, Relay};
use nova_core::metrics::Metrics;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::bench_stack::BENCH;
use crate::cli::{DeadLetters, Events};
use crate::load::{histogram, ms};
use crate::stack::{State, DEVELOPMENT};
use crate::{kafka, postgres};

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A consumer in a group of its own that commits nothing (it only looks).
fn reader(kafka: &KafkaConfig, topic: &str, from_beginning: bool) -> Result<StreamConsumer> {
    let group = format!("nova.xtask.{}", Uuid::now_v7());
    let consumer: StreamConsumer = kafka
        .consumer_config(&group)
        .set(
            "auto.offset.reset",
            if from_beginning { "earliest" } else { "latest" },
        )
        .create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

pub fn run(command: Events) -> Result<()> {
    let brokers = std::env::var("KAFKA_BROKERS")
        .unwrap_or_else(|_| format!("127.0.0.1:{}", DEVELOPMENT.kafka_port));
    let kafka = KafkaConfig::new(brokers);
    match command {
        Events::Tail {
            topic,
            from_beginning,
        } => runtime()?.block_on(tail(kafka, &topic, from_beginning)),
        Events::Dlq(DeadLetters::List) => runtime()?.block_on(list_dead_letters(&kafka)),
        Events::Dlq(DeadLetters::Replay { consumer }) => {
            let replayed = runtime()?.block_on(dead_letter::replay(&kafka, &consumer))?;
            println!(
                "replayed {replayed} dead letter(s) of {consumer} to {}",
                dead_letter::retry_topic(&consumer)
            );
            Ok(())
        }
    }
}

async fn list_dead_letters(kafka: &KafkaConfig) -> Result<()> {
    let letters = dead_letter::list(kafka).await?;
    for letter in &letters {
        let payload = String::from_utf8_lossy(&letter.payload);
        let shown: String = payload.chars().take(200).collect();
        println!(
            "{} {} from {}/{}/{}: {}\n    {shown}",
            letter.dead_lettered_at.format("%Y-%m-%d %H:%M:%S"),
            letter.consumer,
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            letter.error
        );
    }
    println!(
        "{} dead letter(s) on {}",
        letters.len(),
        dead_letter::DEAD_LETTER_TOPIC
    );
    Ok(())
}

async fn tail(kafka: KafkaConfig, topic: &str, from_beginning: bool) -> Result<()> {
    let consumer = reader(&kafka, topic, from_beginning)?;
    eprintln!("tailing {topic} on {} (Ctrl-C to stop)", kafka.brokers);
    loop {
        let message = match consumer.recv().await {
            Ok(message) => message,
            Err(error) => {
                eprintln!("kafka: {error}");
                continue;
            }
        };
        let payload = message.payload().unwrap_or_default();
        let text = String::from_utf8_lossy(payload);
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(e) => println!(
                "{}/{} {} {} key={} id={} {}",
                message.partition(),
                message.offset(),
                e.time.format("%H:%M:%S%.3f"),
                e.event_type,
                e.key,
                e.id,
                e.payload
            ),
            Err(_) => println!(
                "{}/{} (not an event envelope) {text}",
                message.partition(),
                message.offset()
            ),
        }
    }
}

fn sample_event() -> Event {
    Event::PostCreated(PostCreated {
        post_id: Uuid::now_v7(),
        author_id: Uuid::now_v7(),
        created_at: chrono::Utc::now(),
        mentioned_ids: vec![],
    })
}

/// `cargo xtask bench events [--events N]` on a fresh bench broker.
pub fn bench(root: &Path, events: usize) -> Result<()> {
    let state = State::open(root)?;
    let pg = postgres::ensure_running(&state)?;
    let brokers = kafka::start_fresh(&state, root, &BENCH)?;
    let database = "nova_bench_events";
    postgres::recreate_database(&pg, database)?;
    let result = runtime()?.block_on(async {
        let kafka = KafkaConfig::new(brokers);
        throughput(&kafka, events).await?;
        outbox_delay(&kafka, &pg.url(database)).await
    });
    kafka::stop(&state, &BENCH)?;
    result
}

async fn throughput(kafka: &KafkaConfig, events: usize) -> Result<()> {
    let topic = "nova.bench";
    kafka
        .ensure_topics(&[topic.to_string()], Duration::from_secs(30))
        .await?;
    let payloads: Vec<(String, String)> = (0..events)
        .map(|_| {
            let envelope = Envelope::new(&sample_event());
            let json = serde_json::to_string(&envelope).expect("JSON");
            (envelope.key, json)
        })
        .collect();
    let producer = kafka.producer(Duration::from_secs(60))?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(events);
    for (key, json) in &payloads {
        loop {
            match producer.send_result(FutureRecord::to(topic).key(key).payload(json)) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                // The local queue is full: let deliveries drain.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    let mut failed = 0;
    for delivery in deliveries {
        if !matches!(delivery.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    let produce = started.elapsed();
    println!(
        "produce: {events} events (~{} bytes each), idempotent acks=all, in {:.2}s = {:.0} events/s, {failed} failed",
        payloads[0].1.len(),
        produce.as_secs_f64(),
        events as f64 / produce.as_secs_f64()
    );

    let consumer = reader(kafka, topic, true)?;
    let mut received = 0;
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while received < events && Instant::now() < deadline {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            first.get_or_insert_with(Instant::now);
            received += 1;
        }
    }
    let consume = first.map(|t| t.elapsed()).unwrap_or_default();
    println!(
        "consume: {received}/{events} events in {:.2}s after the first = {:.0} events/s (one consumer, 3 partitions)",
        consume.as_secs_f64(),
        received as f64 / consume.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// Writes at a fixed rate, each event in its own transaction through the outbox;
/// a relay publishes; a consumer notes when each arrives.
async fn outbox_delay(kafka: &KafkaConfig, database_url: &str) -> Result<()> {
    const RATE: u64 = 200;
    const SECONDS: u64 = 10;
    static NO_OWN_MIGRATIONS: Migrator = Migrator::DEFAULT;
    let metrics = Metrics::new("bench");
    let db = nova_core::db::Db::connect_and_migrate(
        database_url,
        nova_core::db::PoolSizes {
            requests: 8,
            background: 2,
        },
        &NO_OWN_MIGRATIONS,
        metrics.sql_statements.clone(),
        Duration::from_secs(10),
    )
    .await?;
    let topic = nova_core::events::topic_of("content");
    kafka
        .ensure_topics(std::slice::from_ref(&topic), Duration::from_secs(30))
        .await?;
    let event_metrics = EventMetrics::new(&metrics);
    let relay = Relay::new(
        db.background_pool().clone(),
        kafka.clone(),
        Duration::from_secs(5),
        event_metrics.clone(),
    )?;
    let relay = tokio::spawn(relay.run());

    let consumer = Arc::new(reader(kafka, &topic, false)?);
    // Let the reader join its group before the first write.
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await;
    let total = (RATE * SECONDS) as usize;
    let reader_task = {
        let consumer = consumer.clone();
        tokio::spawn(async move {
            let mut delays = histogram();
            let deadline = Instant::now() + Duration::from_secs(SECONDS + 60);
            while delays.len() < total as u64 && Instant::now() < deadline {
                if let Ok(Ok(message)) =
                    tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await
                {
                    if let Ok(e) =
                        serde_json::from_slice::<Envelope>(message.payload().unwrap_or_default())
                    {
                        let delay = chrono::Utc::now() - e.time;
                        let micros = delay.num_microseconds().unwrap_or(0).max(1);
                        delays.saturating_record(micros as u64);
                    }
                }
            }
            delays
        })
    };
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    for _ in 0..total {
        tick.tick().await;
        let mut tx = db.begin().await?;
        nova_core::events::enqueue(&db, &mut tx, &sample_event()).await?;
        tx.commit().await?;
    }
    let delays = reader_task.await?;
    relay.abort();
    println!(
        "outbox: {total} writes at {RATE}/s, each its own transaction; write-to-consumer delay \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} of {total} arrived",
        ms(&delays, 0.50),
        ms(&delays, 0.99),
        delays.max() as f64 / 1000.0,
        delays.len()
    );
    let acked = &event_metrics.outbox_delay;
    println!(
        "outbox: of which commit-to-broker-ack (the relay) averaged {:.1} ms over {} events",
        acked.get_sample_sum() * 1000.0 / acked.get_sample_count().max(1) as f64,
        acked.get_sample_count()
    );
    Ok(())
}
