//! Content asks chat about reported messages (chat's `/internal/messages/`
//! routes, protected like every internal route). Bodies stay sealed in chat's
//! database; chat opens them only to answer a moderator's queue.

use crate::internal::{InternalCallError, InternalClient};

/// `POST /internal/messages/report`: copy `message` aside for a report by
/// `reporter`. 200 with the sender, or 404 when the reporter had no such
/// message in a conversation they belonged to.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct ReportMessage {
    pub reporter: uuid::Uuid,
    pub message: uuid::Uuid,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedSender {
    pub sender_id: uuid::Uuid,
}

/// One reported message as a moderator reads it.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub message_id: uuid::Uuid,
    pub sender_id: uuid::Uuid,
    pub body: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

/// The answer of `POST /internal/messages/evidence` (`Ids` in): the reported
/// messages among them, opened.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct EvidencePage {
    pub messages: Vec<Evidence>,
}

/// The sender of `message` once chat has kept it for the report; `None` when
/// the reporter could not have received it.
pub async fn report_message(
    chat: &InternalClient,
    reporter: uuid::Uuid,
    message: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, InternalCallError> {
    let request = ReportMessage { reporter, message };
    match chat
        .post::<_, ReportedSender>("/internal/messages/report", &request)
        .await
    {
        Ok(answer) => Ok(Some(answer.sender_id)),
        Err(InternalCallError::Status { status, .. })
            if status == reqwest::StatusCode::NOT_FOUND =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// The reported messages among `ids`, opened, for a moderator.
pub async fn evidence(
    chat: &InternalClient,
    ids: &[uuid::Uuid],
) -> Result<Vec<Evidence>, InternalCallError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let request = crate::internal::Ids { ids: ids.to_vec() };
    let page: EvidencePage = chat.post("/internal/messages/evidence", &request).await?;
    Ok(page.messages)
}
