//! The search bench's data set: accounts with profiles and posts of made-up
//! words (a skewed vocabulary, so some words are common and some rare, and a
//! fifth of the posts carry a hashtag), loaded with `\copy` into the owners'
//! databases together with the events the owners would have written for them
//! (`identity.user_registered`, `users.profile_changed`,
//! `content.post_created`) in their outboxes. The owners' relays publish them
//! and search indexes them from Kafka, reading each document from its owner,
//! as it would in production.

use anyhow::{Context, Result};
use nova_core::events::envelope::{PostCreated, ProfileChanged, UserRegistered};
use nova_core::events::{Envelope, Event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::{NoContext, Timestamp, Uuid};

use crate::bench_stack::{copy_csv, seed_accounts, skewed, BENCH};
use crate::postgres::{self, Postgres};

const SYLLABLES: [&str; 20] = [
    "ka", "ro", "mi", "te", "lu", "sa", "no", "vi", "pe", "da", "zu", "fo", "ri", "ga", "le", "bo",
    "ne", "shi", "tor", "quen",
];
const VOCABULARY: usize = 5_000;
const HASHTAGS: usize = 200;

/// Word `i` of the vocabulary: two to four syllables, four to twelve letters.
pub fn word(i: usize) -> String {
    let mut n = i;
    let count = 2 + i % 3;
    (0..count)
        .map(|_| {
            let syllable = SYLLABLES[n % SYLLABLES.len()];
            n = n / SYLLABLES.len() + 7;
            syllable
        })
        .collect()
}

/// One CSV line of an outbox row: the event, its topic, key and envelope.
/// An outbox row (event_id, topic, event_key, envelope) of `event`.
fn outbox_row(event: &Event) -> Result<(Uuid, String, String, String)> {
    let envelope = Envelope::new(event);
    let json = serde_json::to_string(&envelope)?;
    Ok((envelope.id, event.topic(), envelope.key, json))
}

pub struct Seeded {
    /// Events written to the outboxes: search applies each once.
    pub events: usize,
    /// Documents search should hold: the accounts and the posts.
    pub documents: usize,
}

/// Seed `users` accounts and `posts` posts with their events. `hash` is an
/// argon2 hash the accounts share.
pub fn seed(pg: &Postgres, users: usize, posts: usize, hash: &str) -> Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(14);
    let user_ids = seed_accounts(pg, users, hash)?;
    let mut registered = Vec::with_capacity(users);
    let mut profiles = Vec::with_capacity(users);
    let mut profile_rows = Vec::with_capacity(users);
    for (i, id) in user_ids.iter().enumerate() {
        registered.push(outbox_row(&Event::UserRegistered(UserRegistered {
            user_id: *id,
        }))?);
        profiles.push(outbox_row(&Event::ProfileChanged(ProfileChanged {
            user_id: *id,
        }))?);
        profile_rows.push((*id, format!("User {i}"), format!("Bio of user {i}")));
    }

    let now = chrono::Utc::now().timestamp() as u64;
    let mut times: Vec<u64> = (0..posts)
        .map(|_| now - rng.gen_range(0..30 * 24 * 3600))
        .collect();
    times.sort_unstable();
    let mut rows = Vec::with_capacity(posts);
    let mut created = Vec::with_capacity(posts);
    for at in times {
        let id = Uuid::new_v7(Timestamp::from_unix(
            NoContext,
            at,
            rng.gen_range(0..1_000_000_000),
        ));
        let author = user_ids[skewed(&mut rng, user_ids.len())];
        let length = rng.gen_range(6..15);
        let mut words: Vec<String> = (0..length)
            .map(|_| word(skewed(&mut rng, VOCABULARY)))
            .collect();
        if rng.gen_ratio(1, 5) {
            words.push(format!(
                "#{}",
                word(VOCABULARY + skewed(&mut rng, HASHTAGS))
            ));
        }
        let body = words.join(" ");
        let hashtags = nova_content::text::hashtags(&body);
        let created_at = chrono::DateTime::from_timestamp(at as i64, 0).context("a time")?;
        // hashtags is a text[]: Postgres's array literal.
        let tags = format!("{{{}}}", hashtags.join(","));
        rows.push((id, author, body, tags, created_at));
        created.push(outbox_row(&Event::PostCreated(PostCreated {
            post_id: id,
            author_id: author,
            created_at,
            mentioned_ids: Vec::new(),
        }))?);
    }
    copy_csv(
        pg,
        &BENCH.database("content"),
        "posts",
        "id, author_id, body, hashtags, created_at",
        &rows,
    )?;
    // Events carry ids: search reads the profiles and posts from their owners.
    copy_csv(
        pg,
        &BENCH.database("users"),
        "profiles",
        "user_id, display_name, bio",
        &profile_rows,
    )?;
    let columns = "event_id, topic, event_key, envelope";
    copy_csv(
        pg,
        &BENCH.database("identity"),
        "outbox",
        columns,
        &registered,
    )?;
    copy_csv(pg, &BENCH.database("users"), "outbox", columns, &profiles)?;
    copy_csv(pg, &BENCH.database("content"), "outbox", columns, &created)?;
    for name in ["identity", "users", "content"] {
        postgres::execute(pg, &BENCH.database(name), "ANALYZE")?;
    }
    Ok(Seeded {
        events: 2 * users + posts,
        documents: users + posts,
    })
}
