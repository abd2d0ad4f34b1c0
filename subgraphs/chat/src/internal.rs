//! chat's `/internal/` routes (see `nova_core::message_reports`): what content
//! asks when a member reports a message, and when a moderator reads one.
//!
//! - `POST /internal/messages/report` `{ "reporter", "message" }` →
//!   `{ "senderId" }`, or 404 when the reporter was not a member of the
//!   message's conversation when it was sent (or there is no such message).
//!   The sealed body is copied aside (`reported_messages`) so it outlives the
//!   message.
//! - `POST /internal/messages/evidence` `{ "ids": [...] }` →
//!   `{ "messages": [{ "messageId", "senderId", "body", "sentAt" }] }`: the
//!   reported ones among them, opened. Only content calls it, for moderators.
//! - `POST /internal/users/data` `{ "userId" }` → the user's conversations and
//!   the messages they sent, opened: their section of `exportMyData`
//!   (`nova_core::personal_data`; only media calls it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, Ids, Refusal};
use nova_core::message_reports::{Evidence, EvidencePage, ReportMessage, ReportedSender};

use serde_json::json;
use uuid::Uuid;

use crate::crypto::MessageCipher;
use crate::store::{self, reports};

/// Ids one evidence call may ask about (a queue page).
const MAX_EVIDENCE_IDS: usize = 100;

#[derive(Clone)]
struct Reports {
    db: Db,
    cipher: MessageCipher,
}

type Answer<T> = Result<Json<T>, Refusal>;

async fn report(
    State(state): State<Reports>,
    Json(request): Json<ReportMessage>,
) -> Answer<ReportedSender> {
    match reports::copy_for_report(state.db.statement(), request.reporter, request.message)
        .await
        .map_err(failed)?
    {
        Some(sender_id) => Ok(Json(ReportedSender { sender_id })),
        None => Err((
            StatusCode::NOT_FOUND,
            "no such message for this reporter".into(),
        )),
    }
}

async fn evidence(State(state): State<Reports>, Json(request): Json<Ids>) -> Answer<EvidencePage> {
    if request.ids.len() > MAX_EVIDENCE_IDS {
        let message = format!("at most {MAX_EVIDENCE_IDS} ids per call");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    let rows = reports::reported(state.db.statement(), &request.ids)
        .await
        .map_err(failed)?;
    let messages = rows
        .into_iter()
        .map(|row| {
            let body = state
                .cipher
                .open(row.conversation_id, row.message_id, &row.body)
                .map_err(failed)?;
            Ok(Evidence {
                message_id: row.message_id,
                sender_id: row.sender_id,
                body,
                sent_at: row.sent_at,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(Json(EvidencePage { messages }))
}

/// The user's section of `exportMyData` (`nova_core::personal_data`): the
/// conversations they are in and the messages they sent, opened.
async fn data_section(
    state: Reports,
    user: Uuid,
) -> Result<nova_core::personal_data::Section, Refusal> {
    let conversations = sqlx::query!(
        "SELECT c.id, c.kind, c.title, m.joined_at, m.left_at FROM conversation_members m \
         JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1 ORDER BY m.joined_at",
        user
    )
    .fetch_all(state.db.background_pool())
    .await
    .map_err(failed)?;
    let sent = store::sent_by(&state.db, user).await.map_err(failed)?;
    let mut messages = Vec::with_capacity(sent.len());
    for row in sent {
        let body = state
            .cipher
            .open(row.conversation_id, row.id, &row.sealed())
            .map_err(failed)?;
        messages.push(json!({ "id": row.id, "conversationId": row.conversation_id,
            "seq": row.seq, "body": body, "sentAt": row.sent_at }));
    }
    let conversations: Vec<_> = conversations
        .into_iter()
        .map(|c| {
            json!({ "id": c.id, "kind": c.kind, "title": c.title,
            "joinedAt": c.joined_at, "leftAt": c.left_at })
        })
        .collect();
    Ok(json!({ "conversations": conversations, "messagesSent": messages }))
}

/// The routes, protected by the router secret.
pub fn routes(db: Db, cipher: MessageCipher, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/messages/report", post(report))
        .route("/internal/messages/evidence", post(evidence))
        .with_state(Reports {
            db: db.clone(),
            cipher: cipher.clone(),
        })
        .merge(nova_core::personal_data::route(
            Reports { db, cipher },
            data_section,
        ));
    nova_core::internal::protected(routes, router_secret)
}
