//! The feed bench's data set: a power-law follow graph with one account at
//! exactly 10 000 followers (fanned out) and two above the fan-out limit
//! (merged at read time), and 100 000+ posts spread over 30 days. Loaded with
//! `\copy` into the owners' databases; the feed then copies it through its
//! backfill, as a new feed would.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::{NoContext, Timestamp, Uuid};

use crate::bench_stack::{
    analyze, copy_csv, copy_follows, password_hash, seed_accounts, sign_up, Account, BENCH,
};
use crate::postgres::Postgres;

/// Followers of the fanned-out big account.
pub const FAN_FOLLOWERS: usize = 10_000;
/// The bench's fan-out limit: the 10 000-follower account is fanned out, the two
/// with more are merged at read time.
pub const FAN_OUT_LIMIT: usize = 10_001;
pub const CELEBRITY_FOLLOWERS: usize = 11_000;
const FOLLOWS_PER_USER: usize = 20;

pub struct Options {
    pub users: usize,
    pub posts: usize,
    pub viewers: usize,
}

pub struct Seeded {
    /// Accounts signed up through the router, with tokens.
    pub viewers: Vec<Account>,
    /// The account with exactly `FAN_FOLLOWERS` followers.
    pub fan_email: String,
    pub fan_followers: Vec<Uuid>,
    /// An account above the fan-out limit, followed by every viewer.
    pub celebrity_email: String,
}

/// A pick in 0..n with u²: low indices are popular (a power law), but no
/// account reaches the fan-out limit by chance.
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.gen();
    ((u * u) * n as f64) as usize % n
}

pub fn seed(root: &Path, pg: &Postgres, options: &Options) -> Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(13);
    let viewers: Vec<Account> = (0..options.viewers)
        .map(|i| sign_up(root, &format!("viewer{i}")))
        .collect::<Result<_>>()?;
    let viewer_ids: Vec<Uuid> = viewers
        .iter()
        .map(|v| v.id.parse())
        .collect::<Result<_, _>>()?;
    let hash = password_hash(pg, &viewers[0].id)?;
    let seeded = seed_accounts(pg, options.users, &hash)?;

    // user0 is the fanned-out big account, user1 and user2 are above the limit.
    let everyone: Vec<Uuid> = viewer_ids.iter().chain(&seeded).copied().collect();
    let (fan, celebrities) = (seeded[0], [seeded[1], seeded[2]]);
    let mut edges: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut others: Vec<Uuid> = everyone.iter().copied().filter(|u| *u != fan).collect();
    others.shuffle(&mut rng);
    let fan_followers: Vec<Uuid> = others.iter().copied().take(FAN_FOLLOWERS).collect();
    edges.extend(fan_followers.iter().map(|f| (*f, fan)));
    for celebrity in celebrities {
        let mut followers: Vec<Uuid> = viewer_ids.clone();
        let mut pool: Vec<Uuid> = seeded.iter().copied().filter(|u| *u != celebrity).collect();
        pool.shuffle(&mut rng);
        followers.extend(
            pool.into_iter()
                .take(CELEBRITY_FOLLOWERS - viewer_ids.len()),
        );
        edges.extend(followers.iter().map(|f| (*f, celebrity)));
    }
    for follower in &everyone {
        for _ in 0..FOLLOWS_PER_USER {
            let followee = seeded[3 + skewed(&mut rng, seeded.len() - 3)];
            if followee != *follower {
                edges.insert((*follower, followee));
            }
        }
    }
    let follows: Vec<(Uuid, Uuid, Uuid)> = edges
        .iter()
        .map(|(a, b)| (*a, *b, Uuid::now_v7()))
        .collect();
    copy_follows(pg, &follows)?;

    // Posts over the last 30 days, oldest first; ids are UUIDv7 of their time.
    let now = chrono::Utc::now().timestamp() as u64;
    let mut times: Vec<u64> = (0..options.posts)
        .map(|_| now - rng.gen_range(0..30 * 24 * 3600))
        .collect();
    times.sort_unstable();
    let mut posts = Vec::with_capacity(times.len());
    for (i, at) in times.iter().enumerate() {
        let id = Uuid::new_v7(Timestamp::from_unix(
            NoContext,
            *at,
            rng.gen_range(0..1_000_000_000),
        ));
        let author = seeded[skewed(&mut rng, seeded.len())];
        let created = chrono::DateTime::from_timestamp(*at as i64, 0).context("a time")?;
        posts.push((id, author, format!("Post {i}"), created));
    }
    copy_csv(
        pg,
        &BENCH.database("content"),
        "posts",
        "id, author_id, body, created_at",
        &posts,
    )?;
    analyze(pg)?;
    println!(
        "seeded {} users ({} signed in), {} follows, {} posts",
        everyone.len(),
        viewers.len(),
        edges.len(),
        options.posts
    );
    Ok(Seeded {
        viewers,
        fan_email: "user0@bench.test".into(),
        fan_followers,
        celebrity_email: "user1@bench.test".into(),
    })
}
