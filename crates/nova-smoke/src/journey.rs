//! The journey, step by step. Each step that waits for something another
//! service does (a feed fan-out, a notification, media processing) polls for it
//! with a deadline; nothing sleeps blindly.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::client::{next_message, Client};

/// How long a step waits for what other services do in the background.
const EVENTUAL: Duration = Duration::from_secs(30);
/// How often it looks meanwhile.
const POLL: Duration = Duration::from_millis(200);
const PASSWORD: &str = "smoke test password 1";

/// A step done: its name and how long it took.
pub struct Step {
    pub name: &'static str,
    pub took: Duration,
}

/// `check` until it answers `Some`, every `POLL`, for at most `EVENTUAL`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + EVENTUAL;
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{what} did not happen within {EVENTUAL:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

struct Person {
    id: String,
    username: String,
    token: String,
}

async fn sign_up(client: &Client, username: String) -> Result<Person> {
    let email = format!("{username}@smoke.nova.test");
    let registered = client
        .run(
            "Register",
            json!({ "email": email, "username": username, "password": PASSWORD }),
            None,
        )
        .await?;
    let login = client
        .run(
            "Login",
            json!({ "email": email, "password": PASSWORD }),
            None,
        )
        .await?;
    let id = registered["register"]["id"]
        .as_str()
        .context("register: no id")?;
    if login["login"]["user"]["id"] != id {
        bail!("login answered another user: {login}");
    }
    Ok(Person {
        id: id.to_string(),
        username,
        token: login["login"]["accessToken"]
            .as_str()
            .context("login: no access token")?
            .to_string(),
    })
}

/// A small JPEG (a gradient), as a phone upload would be.
fn photo() -> Result<Vec<u8>> {
    let pixels = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&pixels)?;
    Ok(jpeg)
}

/// Run the journey against the router at `base_url` (`http://host:port`),
/// reporting each step as it passes; the first failure ends it with an error
/// naming the step.
pub async fn run(base_url: &str, mut report: impl FnMut(Step)) -> Result<()> {
    let client = Client::new(base_url)?;
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let tag = &run_id[run_id.len() - 10..];
    let mut step = |name: &'static str, started: Instant| {
        report(Step {
            name,
            took: started.elapsed(),
        })
    };

    let started = Instant::now();
    let ann = sign_up(&client, format!("smoke_ann_{tag}"))
        .await
        .context("register and log in")?;
    let bob = sign_up(&client, format!("smoke_bob_{tag}"))
        .await
        .context("register and log in")?;
    step("register and log in (two people)", started);

    let started = Instant::now();
    let display_name = format!("Ann {tag}");
    client
        .run(
            "UpdateProfile",
            json!({ "input": { "displayName": display_name, "bio": "smoke test" } }),
            Some(&ann.token),
        )
        .await
        .context("profile")?;
    let profile = client
        .run(
            "ProfilePage",
            json!({ "username": ann.username }),
            Some(&bob.token),
        )
        .await
        .context("profile")?;
    if profile["userByUsername"]["displayName"] != display_name.as_str() {
        bail!("profile: the new display name is not shown: {profile}");
    }
    step("profile edited and read by another", started);

    let started = Instant::now();
    client
        .run("FollowUser", json!({ "userId": ann.id }), Some(&bob.token))
        .await
        .context("follow")?;
    let body = format!("smoke post {tag}");
    let created = client
        .run("CreatePost", json!({ "body": body }), Some(&ann.token))
        .await
        .context("post")?;
    let post_id = created["createPost"]["id"]
        .as_str()
        .context("post: no id")?
        .to_string();
    eventually("the post in the follower's home feed", || async {
        let feed = client
            .run("HomeFeed", json!({ "first": 20 }), Some(&bob.token))
            .await?;
        let shown = feed["homeFeed"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|edge| edge["node"]["id"] == post_id.as_str());
        Ok(shown.then_some(()))
    })
    .await
    .context("feed")?;
    step("followed, posted, post in the follower's feed", started);

    let started = Instant::now();
    let conversation = client
        .run(
            "StartDirectConversation",
            json!({ "userId": bob.id }),
            Some(&ann.token),
        )
        .await
        .context("chat")?;
    let conversation_id = conversation["startDirectConversation"]["id"]
        .as_str()
        .context("chat: no conversation id")?
        .to_string();
    let mut socket = client
        .subscribe(
            "ChatEvents",
            json!({ "conversationId": conversation_id }),
            &bob.token,
        )
        .await
        .context("chat subscription")?;
    let text = format!("hello from the smoke test {tag}");
    let mut sent = false;
    let deadline = Instant::now() + EVENTUAL;
    loop {
        // The subscription is live once the router has it; until a message
        // arrives, send again (each with its own client id) now and then.
        if !sent {
            client
                .run(
                    "SendMessage",
                    json!({ "conversationId": conversation_id, "body": text,
                            "clientMessageId": uuid::Uuid::now_v7().to_string() }),
                    Some(&ann.token),
                )
                .await
                .context("chat")?;
            sent = true;
        }
        let message = match next_message(&mut socket, Duration::from_secs(2)).await {
            Ok(message) => message,
            Err(_) if Instant::now() < deadline => {
                sent = false;
                continue;
            }
            Err(error) => return Err(error.context("chat: the message never arrived live")),
        };
        match message["type"].as_str() {
            Some("next")
                if message["payload"]["data"]["chatEvents"]["message"]["body"] == text.as_str() =>
            {
                break
            }
            Some("next") if message["payload"].get("errors").is_none() => continue,
            _ => bail!("chat subscription: {message}"),
        }
    }
    step("chat message delivered live over WebSocket", started);

    let started = Instant::now();
    eventually("the follow as a notification", || async {
        let notifications = client
            .run("Notifications", json!({ "first": 20 }), Some(&ann.token))
            .await?;
        let followed = notifications["notifications"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|edge| {
                edge["node"]["kind"] == "FOLLOWED"
                    && edge["node"]["actors"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|actor| actor["id"] == bob.id.as_str())
            });
        Ok(followed.then_some(()))
    })
    .await
    .context("notifications")?;
    step("notification of the follow", started);

    let started = Instant::now();
    let jpeg = photo()?;
    let intent = client
        .run(
            "CreateUploadIntent",
            json!({ "kind": "IMAGE", "contentType": "image/jpeg", "byteSize": jpeg.len() }),
            Some(&ann.token),
        )
        .await
        .context("media")?;
    let intent = &intent["createUploadIntent"];
    let media_id = intent["media"]["id"]
        .as_str()
        .context("media: no id")?
        .to_string();
    let mut put = client
        .http()
        .put(
            intent["uploadUrl"]
                .as_str()
                .context("media: no upload URL")?,
        )
        .body(jpeg);
    for header in intent["requiredHeaders"].as_array().into_iter().flatten() {
        put = put.header(
            header["name"].as_str().context("media: header name")?,
            header["value"].as_str().context("media: header value")?,
        );
    }
    let stored = put
        .send()
        .await
        .context("media: PUT to the presigned URL")?;
    if !stored.status().is_success() {
        bail!("media: the store refused the upload: {}", stored.status());
    }
    client
        .run(
            "CompleteUpload",
            json!({ "mediaId": media_id }),
            Some(&ann.token),
        )
        .await
        .context("media")?;
    eventually("the photo READY", || async {
        let status = client
            .run("MediaStatus", json!({ "id": media_id }), Some(&ann.token))
            .await?;
        match status["media"]["status"].as_str() {
            Some("READY") => Ok(Some(())),
            Some("PROCESSING" | "AWAITING_UPLOAD") => Ok(None),
            _ => bail!("media: {status}"),
        }
    })
    .await
    .context("media")?;
    step("photo uploaded and processed to READY", started);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_photo_is_a_jpeg() {
        let jpeg = super::photo().unwrap();
        assert_eq!(&jpeg[..2], [0xFF, 0xD8]);
    }
}
