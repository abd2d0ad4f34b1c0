//! A takedown reaches the read models that keep a post, by event within
//! seconds: its media are served to nobody (objects kept), its notifications
//! are gone and its author gets a `TAKEN_DOWN` notification; a restore shows
//! the media again. Content itself stops serving the post at once
//! (`moderation.rs`).

use nova_e2e::{eventually, phone_photo, Stack};
use serde_json::{json, Value};

const CREATE_POST: &str = "mutation($media: [ID!]) {
  createPost(body: \"a photo someone reports\", mediaIds: $media) { id } }";
const LIKES: &str = "{ notifications(first: 10) { edges { node { kind post { id } } } } }";
const TOLD: &str =
    "{ notifications(first: 10) { edges { node { kind actorCount actors { id } } } } }";

fn subject(post: &str) -> Value {
    json!({ "kind": "POST", "id": post })
}

async fn liked_notifications(stack: &Stack, token: &str) -> usize {
    let answer = stack.graphql(Some(token), LIKES, json!({})).await;
    answer.expect_ok()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["node"]["kind"] == "POST_LIKED")
        .count()
}

#[tokio::test]
async fn a_taken_down_posts_media_and_notifications_leave_by_event() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, author) = stack.sign_up("photographer").await;
    let (_, fan) = stack.sign_up("fan").await;
    stack.sign_up("keeper").await;
    stack.grant_moderator("keeper");
    let moderator = stack.access_token("keeper").await;

    let media = stack
        .upload_image(&author, "image/jpeg", phone_photo(600, 400))
        .await;
    let media_id = media["id"].as_str().unwrap().to_string();
    let created = stack
        .graphql(Some(&author), CREATE_POST, json!({ "media": [media_id] }))
        .await;
    let post = created.expect_ok()["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    stack
        .graphql(
            Some(&fan),
            "mutation($p: ID!) { likePost(postId: $p) { id } }",
            json!({ "p": post }),
        )
        .await
        .expect_ok();
    eventually(30, "the like notified", &stack, || async {
        liked_notifications(&stack, &author).await == 1
    })
    .await;
    assert_eq!(
        stack.media(Some(&fan), &media_id).await["id"],
        media_id.as_str()
    );
    let stored = stack.bucket_files().len();
    assert!(stored > 0, "the upload and its variants are stored");

    stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { takeDown(subject: $s, reason: \"stolen photo\") { action } }",
            json!({ "s": subject(&post) }),
        )
        .await
        .expect_ok();
    eventually(
        30,
        "media hidden and notifications gone",
        &stack,
        || async {
            stack.media(Some(&fan), &media_id).await.is_null()
                && stack.media(Some(&author), &media_id).await.is_null()
                && liked_notifications(&stack, &author).await == 0
        },
    )
    .await;
    // The author is told, naming no moderator (the reason is in
    // myModerationNotices, moderation.rs).
    let told = stack.graphql(Some(&author), TOLD, json!({})).await;
    assert_eq!(
        told.expect_ok()["notifications"]["edges"],
        json!([{ "node": { "kind": "TAKEN_DOWN", "actorCount": 0, "actors": [] } }])
    );
    // The objects are kept for a restore.
    assert_eq!(stack.bucket_files().len(), stored);

    stack
        .graphql(
            Some(&moderator),
            "mutation($s: ReportSubject!) { restore(subject: $s, reason: \"licensed after all\") { action } }",
            json!({ "s": subject(&post) }),
        )
        .await
        .expect_ok();
    eventually(30, "media shown again", &stack, || async {
        stack.media(Some(&fan), &media_id).await["id"] == media_id.as_str()
    })
    .await;
}
