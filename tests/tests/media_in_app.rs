//! Photos in the app: a post carries its author's READY media and shows their
//! variants through the router; an avatar likewise. Someone else's media is
//! FORBIDDEN, a media shows in one place only, and deleting the post (or
//! replacing the avatar) deletes the media's objects from the store.

use nova_e2e::{eventually, phone_photo, Stack};
use serde_json::json;

const CREATE_POST: &str = "mutation($body: String!, $media: [ID!]) {
  createPost(body: $body, mediaIds: $media) {
    id media { id status variants { width height url } }
  }
}";
const POST: &str = "query($id: ID!) { post(id: $id) { id media { id variants { width } } } }";
const SET_AVATAR: &str = "mutation($media: ID) {
  updateProfile(input: { avatarMediaId: $media }) { id avatar { id variants { width height } } }
}";

async fn create_post(stack: &Stack, token: &str, media: &[&str]) -> nova_e2e::Response {
    stack
        .graphql(
            Some(token),
            CREATE_POST,
            json!({ "body": "look at this", "media": media }),
        )
        .await
}

/// Whether the store still holds an object under `folder` (s3s-fs keeps a
/// key's folders after its last object is deleted).
fn holds_objects(folder: &std::path::Path) -> bool {
    std::fs::read_dir(folder).is_ok_and(|mut entries| entries.next().is_some())
}

fn code_and_field(response: &nova_e2e::Response) -> (Vec<String>, serde_json::Value) {
    (
        response.error_codes(),
        response.body["errors"][0]["extensions"]["field"].clone(),
    )
}

#[tokio::test]
async fn a_post_shows_its_photos_and_takes_them_along_when_deleted() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let photo = stack
        .upload_image(&ann, "image/jpeg", phone_photo(1600, 1200))
        .await;
    let media_id = photo["id"].as_str().unwrap();

    let stolen = create_post(&stack, &bob, &[media_id]).await;
    assert_eq!(stolen.error_codes(), vec!["FORBIDDEN"], "another's media");

    let created = create_post(&stack, &ann, &[media_id]).await;
    let post = &created.expect_ok()["createPost"];
    let post_id = post["id"].as_str().unwrap().to_string();
    assert_eq!(post["media"][0]["id"], media_id);
    assert_eq!(post["media"][0]["status"], "READY");
    let widths: Vec<u64> = post["media"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, vec![96, 384, 810]);
    let url = post["media"][0]["variants"][0]["url"].as_str().unwrap();
    assert_eq!(stack.http.get(url).send().await.unwrap().status(), 200);
    // Anyone reading the post sees the photo.
    let read = stack
        .graphql(Some(&bob), POST, json!({ "id": post_id }))
        .await;
    assert_eq!(read.expect_ok()["post"]["media"][0]["id"], media_id);

    // One place only; only READY media; at most four.
    let again = create_post(&stack, &ann, &[media_id]).await;
    assert_eq!(
        code_and_field(&again),
        (vec!["BAD_USER_INPUT".to_string()], json!("mediaIds"))
    );
    let pending = stack.image_intent(&ann, "image/jpeg", 1000).await;
    let not_ready = create_post(&stack, &ann, &[pending.media_id.as_str()]).await;
    assert_eq!(
        code_and_field(&not_ready),
        (vec!["BAD_USER_INPUT".to_string()], json!("mediaIds"))
    );
    let five = [media_id; 5];
    let too_many = create_post(&stack, &ann, &five).await;
    assert_eq!(
        code_and_field(&too_many),
        (vec!["BAD_USER_INPUT".to_string()], json!("mediaIds"))
    );

    // Deleting the post deletes the photo: hidden, then its objects removed.
    let objects = stack.bucket_folder().join("variants").join(media_id);
    assert!(holds_objects(&objects));
    let deleted = stack
        .graphql(
            Some(&ann),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": post_id }),
        )
        .await;
    deleted.expect_ok();
    eventually(
        30,
        "the post's photo objects were removed",
        &stack,
        || async { !holds_objects(&objects) },
    )
    .await;
    assert!(stack.media(Some(&ann), media_id).await.is_null());
    let upload = stack.bucket_folder().join("uploads").join(media_id);
    assert!(!upload.exists(), "the original goes too");
}

#[tokio::test]
async fn an_avatar_is_an_upload_and_replacing_or_removing_it_deletes_the_old() {
    let stack = Stack::start().await.expect("stack starts");
    let (ann_id, ann) = stack.sign_up("ann").await;
    let (_, bob) = stack.sign_up("bob").await;
    let first = stack
        .upload_image(&ann, "image/jpeg", phone_photo(600, 600))
        .await;
    let first_id = first["id"].as_str().unwrap();

    let theirs = stack
        .graphql(Some(&bob), SET_AVATAR, json!({ "media": first_id }))
        .await;
    assert_eq!(theirs.error_codes(), vec!["FORBIDDEN"]);

    let set = stack
        .graphql(Some(&ann), SET_AVATAR, json!({ "media": first_id }))
        .await;
    let avatar = &set.expect_ok()["updateProfile"]["avatar"];
    assert_eq!(avatar["id"], first_id);
    let shown = stack
        .graphql(
            Some(&bob),
            "query($id: ID!) { user(id: $id) { avatar { id variants { width height } } } }",
            json!({ "id": ann_id }),
        )
        .await;
    let variants = &shown.expect_ok()["user"]["avatar"]["variants"];
    assert_eq!(variants[0]["width"], 128);
    assert_eq!(variants[0]["height"], 128);

    // A new avatar replaces the old one, whose objects are then removed.
    let second = stack
        .upload_image(&ann, "image/jpeg", phone_photo(300, 200))
        .await;
    let second_id = second["id"].as_str().unwrap();
    let replaced = stack
        .graphql(Some(&ann), SET_AVATAR, json!({ "media": second_id }))
        .await;
    assert_eq!(
        replaced.expect_ok()["updateProfile"]["avatar"]["id"],
        second_id
    );
    let old_objects = stack.bucket_folder().join("variants").join(first_id);
    eventually(
        30,
        "the old avatar's objects were removed",
        &stack,
        || async { !holds_objects(&old_objects) },
    )
    .await;
    assert!(stack.media(Some(&ann), first_id).await.is_null());

    // Removing the avatar deletes its media too.
    let removed = stack
        .graphql(Some(&ann), SET_AVATAR, json!({ "media": null }))
        .await;
    assert!(removed.expect_ok()["updateProfile"]["avatar"].is_null());
    assert!(stack.media(Some(&ann), second_id).await.is_null());
    let removed_objects = stack.bucket_folder().join("variants").join(second_id);
    eventually(
        30,
        "the removed avatar's objects were removed",
        &stack,
        || async { !holds_objects(&removed_objects) },
    )
    .await;
}
