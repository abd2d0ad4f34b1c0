//! `exportMyData`, as a client: the archive behind the URL holds what the user
//! made everywhere (account, profile, posts, comments, follows, likes, sent
//! messages opened, notifications, analytics' record of what they did, media
//! with a working URL); one per minute;
//! the URL stops working when it expires and the archive is deleted.

use nova_e2e::realtime::{send, start_direct};
use nova_e2e::{eventually, phone_photo, Stack};
use serde_json::{json, Value};

const EXPORT: &str = "mutation { exportMyData { url expiresAt byteSize } }";

#[tokio::test]
async fn an_export_holds_the_users_data_behind_a_short_lived_url() {
    let stack = Stack::start_with_env(&[], &[("EXPORT_URL_TTL_SECONDS", "10")])
        .await
        .expect("stack starts");
    let (user_id, user) = stack.sign_up("archivist").await;
    let (friend_id, friend) = stack.sign_up("pal").await;

    let photo = phone_photo(200, 200);
    let avatar = stack.upload_image(&user, "image/jpeg", photo.clone()).await;
    let avatar_id = avatar["id"].as_str().unwrap().to_string();
    stack.data_of(&user,
        "mutation($m: ID!) { updateProfile(input: { displayName: \"Ada Archive\", avatarMediaId: $m }) { id } }",
        json!({ "m": avatar_id })).await;
    let post = stack.create_post(&user, "my first words").await;
    let friends_post = stack.create_post(&friend, "the pal's post").await;
    stack.data_of(&user,
        "mutation($p: ID!) { addComment(postId: $p, body: \"nice one\") { id } likePost(postId: $p) { id } }",
        json!({ "p": friends_post })).await;
    stack
        .data_of(
            &user,
            "mutation($u: ID!) { followUser(userId: $u) { id } }",
            json!({ "u": friend_id }),
        )
        .await;
    stack
        .data_of(
            &friend,
            "mutation($u: ID!) { followUser(userId: $u) { id } }",
            json!({ "u": user_id }),
        )
        .await;
    let conversation = start_direct(&stack, &user, &friend_id).await;
    send(&stack, &user, &conversation, "a sealed hello", "k1")
        .await
        .expect_ok();
    eventually(30, "the follow notified", &stack, || async {
        let notices = stack
            .graphql(
                Some(&user),
                "{ notifications(first: 5) { edges { node { kind } } } }",
                json!({}),
            )
            .await;
        notices.expect_ok()["notifications"]["edges"][0]["node"]["kind"] == "FOLLOWED"
    })
    .await;
    eventually(30, "analytics counting the like", &stack, || async {
        let stats = stack
            .data_of(
                &friend,
                "query($id: ID!) { node(id: $id) { ... on Post { stats { likes } } } }",
                json!({ "id": friends_post }),
            )
            .await;
        stats["node"]["stats"]["likes"] == 1
    })
    .await;

    // Signed out: no export. Signed in: a URL.
    let anonymous = stack.graphql(None, EXPORT, json!({})).await;
    assert_eq!(anonymous.error_codes(), ["UNAUTHENTICATED"]);
    let export = stack.data_of(&user, EXPORT, json!({})).await["exportMyData"].clone();
    let url = export["url"].as_str().unwrap().to_string();
    let archive: Value = stack
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        export["byteSize"].as_i64().unwrap() as usize,
        serde_json::to_vec_pretty(&archive).unwrap().len()
    );

    assert_eq!(archive["format"], "nova-export/1");
    assert_eq!(archive["userId"], user_id.as_str());
    assert_eq!(
        archive["identity"]["account"]["email"],
        "archivist@example.com"
    );
    assert_eq!(archive["identity"]["account"]["username"], "archivist");
    assert_eq!(archive["identity"]["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(archive["users"]["profile"]["displayName"], "Ada Archive");
    assert_eq!(archive["content"]["posts"][0]["id"], post.as_str());
    assert_eq!(archive["content"]["posts"][0]["body"], "my first words");
    assert_eq!(archive["content"]["comments"][0]["body"], "nice one");
    assert_eq!(
        archive["social"]["following"][0]["userId"],
        friend_id.as_str()
    );
    assert_eq!(
        archive["social"]["followers"][0]["userId"],
        friend_id.as_str()
    );
    assert_eq!(
        archive["social"]["likes"][0]["postId"],
        friends_post.as_str()
    );
    assert_eq!(
        archive["chat"]["conversations"][0]["id"],
        conversation.as_str()
    );
    assert_eq!(archive["chat"]["messagesSent"][0]["body"], "a sealed hello");
    assert_eq!(
        archive["notifications"]["notifications"][0]["kind"],
        "followed"
    );
    let activity = archive["analytics"]["activity"].as_array().unwrap();
    let liked = json!({ "kind": "post_liked", "postId": friends_post, "authorId": friend_id });
    assert!(
        activity.iter().any(|row| {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("at");
            row == liked
        }),
        "{activity:?}"
    );
    let media = &archive["media"]["media"][0];
    assert_eq!(media["id"], avatar_id.as_str());
    let original = stack
        .http
        .get(media["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(original.bytes().await.unwrap().to_vec(), photo);

    // One a minute.
    let again = stack.graphql(Some(&user), EXPORT, json!({})).await;
    assert_eq!(again.error_codes(), ["RATE_LIMITED"]);

    // Once it expires the URL stops working and the archive is deleted.
    eventually(
        40,
        "the archive expired and was deleted",
        &stack,
        || async {
            !stack
                .bucket_files()
                .iter()
                .any(|file| file.contains("exports"))
        },
    )
    .await;
    let expired = stack.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 403);
}
