//! The bench data set: accounts, follows, posts, comments and likes with a
//! skewed popularity, copied into the bench databases, and the sample the load
//! scripts pick from.

use std::path::Path;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::bench_stack::{
    analyze, copy_csv, copy_follows, password_hash, seed_accounts, sign_up, skewed, BENCH,
};
use crate::postgres::Postgres;

const USERS: usize = 5_000;
const FOLLOWS_PER_USER: usize = 20;
const POSTS: usize = 20_000;
const COMMENTS: usize = 30_000;
const LIKES: usize = 100_000;
const SAMPLE: usize = 500;

/// What the load scripts pick from.
pub(super) struct Seeded {
    pub(super) viewer_token: String,
    pub(super) post_ids: Vec<Uuid>,
    pub(super) usernames: Vec<String>,
}

pub(super) fn seed(root: &Path, pg: &Postgres) -> Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(7);
    // One real account, so its argon2 hash can be reused for the seeded ones.
    let viewer = sign_up(root, "viewer")?;
    let viewer_id: Uuid = viewer.id.parse()?;
    let hash = password_hash(pg, &viewer.id)?;

    let user_ids = seed_accounts(pg, USERS, &hash)?;
    let usernames: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();

    // A skewed follow graph: everyone (the viewer too) follows popular users more.
    let mut follows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for follower in user_ids.iter().chain(std::iter::once(&viewer_id)) {
        for _ in 0..FOLLOWS_PER_USER {
            let followee = user_ids[skewed(&mut rng, USERS)];
            if followee != *follower && seen.insert((*follower, followee)) {
                follows.push((*follower, followee, Uuid::now_v7()));
            }
        }
    }
    copy_follows(pg, &follows)?;

    // Posts: popular users write more; some carry hashtags.
    let tags = ["rust", "graphql", "music", "travel", "food"];
    let mut posts = Vec::with_capacity(POSTS);
    let mut post_tags = Vec::with_capacity(POSTS);
    let mut post_ids = Vec::with_capacity(POSTS);
    for i in 0..POSTS {
        let id = Uuid::now_v7();
        let author = user_ids[skewed(&mut rng, USERS)];
        let tag = tags[i % tags.len()];
        // hashtags is a text[]: Postgres's array literal.
        posts.push((
            id,
            author,
            format!("Post {i} about #{tag}"),
            format!("{{{tag}}}"),
        ));
        post_tags.push((tag, id));
        post_ids.push(id);
    }
    copy_csv(
        pg,
        &BENCH.database("content"),
        "posts",
        "id, author_id, body, hashtags",
        &posts,
    )?;
    copy_csv(
        pg,
        &BENCH.database("content"),
        "post_hashtags",
        "tag, post_id",
        &post_tags,
    )?;

    let mut comments = Vec::with_capacity(COMMENTS);
    for i in 0..COMMENTS {
        let post = post_ids[skewed(&mut rng, POSTS)];
        let author = user_ids[rng.gen_range(0..USERS)];
        comments.push((Uuid::now_v7(), post, author, format!("Comment {i}")));
    }
    copy_csv(
        pg,
        &BENCH.database("content"),
        "comments",
        "id, post_id, author_id, body",
        &comments,
    )?;

    let mut likes = Vec::with_capacity(LIKES);
    let mut liked = std::collections::HashSet::new();
    for _ in 0..LIKES {
        let post = post_ids[skewed(&mut rng, POSTS)];
        let user = user_ids[rng.gen_range(0..USERS)];
        if liked.insert((post, user)) {
            likes.push((post, user));
        }
    }
    copy_csv(
        pg,
        &BENCH.database("social"),
        "likes",
        "post_id, user_id",
        &likes,
    )?;
    analyze(pg)?;

    println!(
        "seeded {USERS} users, {} follows, {POSTS} posts, {COMMENTS} comments, {} likes",
        seen.len(),
        liked.len()
    );
    Ok(Seeded {
        viewer_token: viewer.token,
        post_ids: (0..SAMPLE)
            .map(|_| post_ids[skewed(&mut rng, POSTS)])
            .collect(),
        usernames: (0..SAMPLE)
            .map(|_| usernames[skewed(&mut rng, USERS)].clone())
            .collect(),
    })
}
