//! The FOR_YOU home feed through the router: a fixture with known likes,
//! comments and the viewer's own interactions comes out in exactly the order
//! the documented formula gives (docs/analytics.md, `nova_feed::ranking`), from
//! the features analytics keeps in Redis; and paging stays on the order fixed
//! at the first page while the features change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_e2e::{eventually, Stack};
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

mod feed_support;
use feed_support::{ranked_page, FEED_IDS};

const LIKE: &str = "mutation($id: ID!) { likePost(postId: $id) { id } }";
const COMMENT: &str = "mutation($id: ID!) { addComment(postId: $id, body: \"yes\") { id } }";
const FOLLOW: &str = "mutation($id: ID!) { followUser(userId: $id) { id } }";

/// The features as analytics wrote them: (views, likes, comments) by post, and
/// the viewer's affinity by author.
type Features = (HashMap<Uuid, (i64, i64, i64)>, HashMap<Uuid, i64>);

fn features(stack: &Stack, viewer: Uuid) -> Features {
    let mut redis = redis::Client::open(stack.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let engagement: HashMap<String, String> = redis::cmd("HGETALL")
        .arg("nova:features:engagement")
        .query(&mut redis)
        .unwrap();
    let affinity: HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(format!("nova:features:affinity:{viewer}"))
        .query(&mut redis)
        .unwrap();
    let engagement = engagement
        .into_iter()
        .map(|(post, value)| {
            let n: Vec<i64> = value.split(' ').map(|n| n.parse().unwrap()).collect();
            (Uuid::parse_str(&post).unwrap(), (n[0], n[1], n[2]))
        })
        .collect();
    let affinity = affinity
        .into_iter()
        .map(|(author, n)| (Uuid::parse_str(&author).unwrap(), n))
        .collect();
    (engagement, affinity)
}

/// The documented formula, written out again here on purpose.
fn expected_order(posts: &[(Uuid, Uuid)], features: &Features, now: DateTime<Utc>) -> Vec<Uuid> {
    let score = |post: Uuid, author: Uuid| {
        let (seconds, nanos) = post.get_timestamp().unwrap().to_unix();
        let published = DateTime::from_timestamp(seconds as i64, nanos).unwrap();
        let age_hours = (now - published).num_milliseconds() as f64 / 3_600_000.0;
        let (views, likes, comments) = features.0.get(&post).copied().unwrap_or_default();
        let engagement = (likes + comments) as f64 / (views + 1) as f64;
        let affinity = features.1.get(&author).copied().unwrap_or(0) as f64;
        0.5f64.powf(age_hours / 24.0) * (1.0 + 2.0 * engagement) * (1.0 + (1.0 + affinity).ln())
    };
    let mut ranked = posts.to_vec();
    ranked.sort_by(|a, b| {
        score(b.0, b.1)
            .total_cmp(&score(a.0, a.1))
            .then(b.0.cmp(&a.0))
    });
    ranked.into_iter().map(|(post, _)| post).collect()
}

/// One FOR_YOU page: post ids, and the cursor to go on from when there is more.
async fn for_you(
    stack: &Stack,
    token: &str,
    n: i32,
    after: Option<&str>,
) -> (Vec<Uuid>, Option<String>) {
    let (ids, next) = ranked_page(stack, token, "FOR_YOU", n, after).await;
    (ids.iter().map(|id| uuid(id)).collect(), next)
}

async fn call(stack: &Stack, token: &str, query: &str, id: &str) -> Value {
    stack.data_of(token, query, json!({ "id": id })).await
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap()
}

#[tokio::test]
async fn for_you_orders_by_the_formula_and_pages_a_fixed_order() {
    let stack = Stack::start_with_env(&[], &[("ANALYTICS_FEATURES_INTERVAL_MS", "300")])
        .await
        .expect("stack starts");
    let (viewer_id, viewer) = stack.sign_up("viewer").await;
    let mut authors = Vec::new();
    for name in ["ann", "bob", "cid"] {
        let (id, token) = stack.sign_up(name).await;
        call(&stack, &viewer, FOLLOW, &id).await;
        authors.push((id, token));
    }
    let mut likers = Vec::new();
    for name in ["liker1", "liker2", "liker3"] {
        likers.push(stack.sign_up(name).await.1);
    }
    let [(ann_id, ann), (bob_id, bob), (cid_id, cid)] = &authors[..] else {
        unreachable!()
    };
    let ann_first = stack.create_post(ann, "ann's first").await;
    let bob_post = stack.create_post(bob, "bob's").await;
    let cid_post = stack.create_post(cid, "cid's").await;
    let ann_second = stack.create_post(ann, "ann's second").await;
    // bob's post: 3 likes; ann's first: a comment; cid's: the viewer's like
    // and comment (affinity 2 with cid).
    for liker in &likers {
        call(&stack, liker, LIKE, &bob_post).await;
    }
    call(&stack, &likers[0], COMMENT, &ann_first).await;
    call(&stack, &viewer, LIKE, &cid_post).await;
    call(&stack, &viewer, COMMENT, &cid_post).await;
    let posts = [
        (uuid(&ann_first), uuid(ann_id)),
        (uuid(&bob_post), uuid(bob_id)),
        (uuid(&cid_post), uuid(cid_id)),
        (uuid(&ann_second), uuid(ann_id)),
    ];

    let viewer_uuid = uuid(&viewer_id);
    eventually(
        60,
        "the features reflecting the fixture",
        &stack,
        || async {
            let (engagement, affinity) = features(&stack, viewer_uuid);
            engagement.get(&posts[0].0) == Some(&(0, 0, 1))
                && engagement.get(&posts[1].0) == Some(&(0, 3, 0))
                && engagement.get(&posts[2].0) == Some(&(0, 1, 1))
                && engagement.get(&posts[3].0) == Some(&(0, 0, 0))
                && affinity.get(&uuid(cid_id)) == Some(&2)
        },
    )
    .await;
    eventually(
        60,
        "the feed holding the four posts and follows",
        &stack,
        || async {
            let mut feed_db = stack.connect("feed").await.unwrap();
            let (posts, follows): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM follows)",
            )
            .fetch_one(&mut feed_db)
            .await
            .unwrap();
            feed_db.close().await.unwrap();
            posts == 4 && follows == 3
        },
    )
    .await;

    let refreshed = "nova_analytics_feature_refreshes_total{outcome=\"done\"}";
    assert!(stack.metric("analytics", refreshed).await >= 1.0);
    let fixture = features(&stack, viewer_uuid);
    let expected = expected_order(&posts, &fixture, Utc::now());
    // cid's (engagement 2, affinity 2), bob's (3), ann's first (1), ann's second.
    assert_eq!(expected, [posts[2].0, posts[1].0, posts[0].0, posts[3].0]);
    let (first_page, cursor) = for_you(&stack, &viewer, 2, None).await;
    assert_eq!(first_page, expected[..2]);
    let cursor = cursor.expect("a second page");

    // ann's second post gets 3 likes: ranked now, it would come first.
    for liker in &likers {
        call(&stack, liker, LIKE, &ann_second).await;
    }
    eventually(60, "the features seeing the new likes", &stack, || async {
        features(&stack, viewer_uuid)
            .0
            .get(&posts[3].0)
            .map(|c| c.1)
            == Some(3)
    })
    .await;
    let changed = expected_order(&posts, &features(&stack, viewer_uuid), Utc::now());
    assert_eq!(changed[0], posts[3].0, "the new likes change the ranking");

    // The second page goes on with the order fixed at the first.
    let (second_page, more) = for_you(&stack, &viewer, 2, Some(&cursor)).await;
    assert_eq!(second_page, expected[2..]);
    assert_eq!(more, None);
    // A ranking is its viewer's alone.
    let by_bob = stack
        .graphql(
            Some(bob),
            FEED_IDS,
            json!({ "n": 2, "after": cursor, "ranking": "FOR_YOU" }),
        )
        .await;
    assert_eq!(by_bob.error_codes(), ["BAD_USER_INPUT"]);
}
