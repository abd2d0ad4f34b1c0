//! `deleteAccount` leaves nothing of the user behind: after the
//! `identity.user_deleted` events settle, no database, Redis key, search hit,
//! search index file, stored object or event on the broker holds the user's e-mail, username,
//! display name, bio, posts, comments, messages or media; the user's id
//! remains only where docs/deletion.md says (event logs with a one-day
//! retention, the deleted accounts list, search's tombstone). Its data export
//! goes too. The account's still-valid token is refused at once, and a wrong
//! password deletes nothing.

mod deletion_support;

use deletion_support::{
    analytics_rows, deleted_in_index, ranked_by_features, redis_contents, search_hits,
    tables_holding,
};
use nova_e2e::realtime::{send, start_direct};
use nova_e2e::{eventually, phone_photo, Stack};
use serde_json::json;

const VICTIM: &str = "zqxleaving";
const DISPLAY_NAME: &str = "Quillon Vanishwell";
const BIO: &str = "biomarker5521";
const POST_BODY: &str = "postmarker7731 #tagmarker4410 hello @friend";
const COMMENT_BODY: &str = "commentmarker9910";
const MESSAGE_BODY: &str = "messagemarker3318";

/// What must not remain anywhere (lower case; the scans ignore case).
fn personal_data() -> Vec<String> {
    [
        VICTIM,
        "quillon",
        "vanishwell",
        BIO,
        "postmarker7731",
        "tagmarker4410",
        COMMENT_BODY,
        MESSAGE_BODY,
    ]
    .iter()
    .map(|s| s.to_lowercase())
    .collect()
}

const DELETE: &str = "mutation($p: String!) { deleteAccount(password: $p) }";

#[tokio::test]
async fn a_deleted_account_leaves_no_personal_data_behind() {
    let stack = Stack::start().await.expect("stack starts");
    let (victim_id, victim) = stack.sign_up(VICTIM).await;
    let (friend_id, friend) = stack.sign_up("friend").await;
    let (other_id, _) = stack.sign_up("other").await;

    // Everything a user leaves around the app.
    let avatar = stack
        .upload_image(&victim, "image/jpeg", phone_photo(300, 300))
        .await;
    let avatar_id = avatar["id"].as_str().unwrap().to_string();
    stack.data_of(&victim,
        "mutation($n: String!, $b: String!, $m: ID!) { updateProfile(input: { displayName: $n, bio: $b, avatarMediaId: $m }) { id } }",
        json!({ "n": DISPLAY_NAME, "b": BIO, "m": avatar_id })).await;
    let post = stack
        .data_of(
            &victim,
            "mutation($b: String!) { createPost(body: $b) { id } }",
            json!({ "b": POST_BODY }),
        )
        .await["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let friends_post = stack.create_post(&friend, "the friend's own words").await;
    stack.data_of(&victim,
        "mutation($p: ID!, $b: String!) { addComment(postId: $p, body: $b) { id } likePost(postId: $p) { id } }",
        json!({ "p": friends_post, "b": COMMENT_BODY })).await;
    stack
        .data_of(
            &victim,
            "mutation($u: ID!) { followUser(userId: $u) { id } }",
            json!({ "u": friend_id }),
        )
        .await;
    stack
        .data_of(
            &friend,
            "mutation($u: ID!) { followUser(userId: $u) { id } }",
            json!({ "u": victim_id }),
        )
        .await;
    stack
        .data_of(
            &friend,
            "mutation($p: ID!) { likePost(postId: $p) { id } }",
            json!({ "p": post }),
        )
        .await;
    stack
        .data_of(
            &victim,
            "mutation($u: ID!) { blockUser(userId: $u) { id } }",
            json!({ "u": other_id }),
        )
        .await;
    let conversation = start_direct(&stack, &victim, &friend_id).await;
    let message = send(&stack, &victim, &conversation, MESSAGE_BODY, "k1").await;
    let message_id = message.expect_ok()["sendMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&stack, &friend, &conversation, "the friend's reply", "k2")
        .await
        .expect_ok();
    stack.data_of(&friend,
        "mutation($id: ID!) { reportContent(subject: { kind: MESSAGE, id: $id }, reason: SPAM) { reason } }",
        json!({ "id": message_id })).await;
    // An archive of it all waits in the bucket.
    stack
        .data_of(&victim, "mutation { exportMyData { url } }", json!({}))
        .await;

    // The read models have it all before the deletion.
    eventually(
        60,
        "the victim's post is searchable and in the friend's feed",
        &stack,
        || async {
            let feed = stack
                .graphql(
                    Some(&friend),
                    "{ homeFeed(first: 20) { edges { node { id } } } }",
                    json!({}),
                )
                .await;
            search_hits(&stack, &friend, "postmarker7731").await == 1
                && feed.expect_ok().to_string().contains(&post)
        },
    )
    .await;
    eventually(
        60,
        "the friend was notified of the victim",
        &stack,
        || async {
            let notices = stack
                .graphql(
                    Some(&friend),
                    "{ notifications(first: 20) { edges { node { kind } } } }",
                    json!({}),
                )
                .await;
            notices.expect_ok()["notifications"]["edges"]
                .as_array()
                .unwrap()
                .len()
                >= 3
        },
    )
    .await;
    // A FOR_YOU page leaves a ranking snapshot in Redis.
    let for_you = stack
        .data_of(
            &victim,
            "{ homeFeed(first: 5, ranking: FOR_YOU) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(for_you.to_string().contains(&post), "{for_you}");
    assert!(!tables_holding(&stack, &personal_data()).await.is_empty());
    eventually(
        60,
        "analytics counting the victim's doings and ranking its post",
        &stack,
        || async {
            analytics_rows(&stack, &victim_id, &post).await >= 5
                && ranked_by_features(&stack, &post)
        },
    )
    .await;

    // A wrong password deletes nothing.
    let wrong = stack
        .graphql(Some(&victim), DELETE, json!({ "p": "not the password" }))
        .await;
    assert_eq!(wrong.error_codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        stack
            .data_of(&victim, "{ me { username } }", json!({}))
            .await["me"]["username"],
        VICTIM
    );

    let deleted = stack
        .graphql(
            Some(&victim),
            DELETE,
            json!({ "p": nova_e2e::TEST_PASSWORD }),
        )
        .await;
    assert_eq!(deleted.expect_ok()["deleteAccount"], true);

    // The token is refused at once, a second deletion too; the credentials are gone.
    let me = stack
        .graphql(Some(&victim), "{ me { id } }", json!({}))
        .await;
    assert_eq!(me.status, 401);
    assert_eq!(me.error_codes(), ["UNAUTHENTICATED"]);
    assert_eq!(
        me.body["errors"][0]["extensions"]["reason"],
        "ACCOUNT_DELETED"
    );
    let again = stack
        .graphql(
            Some(&victim),
            DELETE,
            json!({ "p": nova_e2e::TEST_PASSWORD }),
        )
        .await;
    assert_eq!(
        again.body["errors"][0]["extensions"]["reason"],
        "ACCOUNT_DELETED"
    );
    assert_eq!(
        stack.log_in(VICTIM).await.error_codes(),
        ["UNAUTHENTICATED"]
    );

    // Nothing personal remains once the events settle.
    let personal = personal_data();
    let victim_lower = victim_id.to_lowercase();
    eventually(
        60,
        "no table, key, hit or object holds the user",
        &stack,
        || async {
            let tables = tables_holding(&stack, &personal).await;
            let keys: Vec<_> = redis_contents(&stack)
                .into_iter()
                .filter(|(key, value)| {
                    let text = format!("{key} {value}");
                    personal.iter().any(|p| text.contains(p.as_str()))
                        || value.contains(&post)
                        || (text.contains(&victim_lower)
                            && !key.starts_with("nova:suspended:")
                            && !key.starts_with("nova:rl:user:"))
                })
                .collect();
            let objects = stack.bucket_files();
            let hits = search_hits(&stack, &friend, "postmarker7731").await
                + search_hits(&stack, &friend, VICTIM).await
                + search_hits(&stack, &friend, "vanishwell").await;
            let in_index = deleted_in_index(&stack);
            let analytics = analytics_rows(&stack, &victim_id, &post).await;
            let clean = tables.is_empty() && keys.is_empty() && objects.is_empty();
            if !(clean && hits == 0 && in_index == 0 && analytics == 0) {
                eprintln!(
                    "left: tables {tables:?}, keys {keys:?}, objects {objects:?}, hits {hits}, \
                     deleted documents in the index {in_index}, analytics rows {analytics}"
                );
                return false;
            }
            true
        },
    )
    .await;

    // The id remains only where docs/deletion.md says.
    let mut holding_id = tables_holding(&stack, std::slice::from_ref(&victim_lower)).await;
    holding_id.retain(|table| !table.ends_with(".outbox"));
    assert_eq!(
        holding_id,
        [
            "identity.deleted_accounts",
            "search.users",
            "analytics.erased_accounts"
        ]
    );

    // The friend keeps the conversation: the victim's message is a tombstone.
    let history = stack.data_of(&friend,
        "query($c: ID!) { conversation(id: $c) { messages(last: 10) { edges { node { body erased } } } } }",
        json!({ "c": conversation })).await;
    assert_eq!(
        history["conversation"]["messages"]["edges"],
        json!([{ "node": { "body": "", "erased": true } },
               { "node": { "body": "the friend's reply", "erased": false } }])
    );

    // The broker's log holds no personal data either: events carry ids.
    for topic in ["identity", "users", "content", "social", "chat", "media"] {
        let envelopes = stack.read_topic(&format!("nova.{topic}"), 1).await;
        assert!(!envelopes.is_empty(), "nova.{topic} has events");
        for envelope in envelopes {
            let text = envelope.to_string().to_lowercase();
            let found: Vec<_> = personal
                .iter()
                .filter(|p| text.contains(p.as_str()))
                .collect();
            assert!(found.is_empty(), "nova.{topic} holds {found:?}: {text}");
        }
    }

    // The username and e-mail address are free again.
    stack.sign_up(VICTIM).await;
}
