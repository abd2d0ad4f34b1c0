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

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use nova_core::db::Db;
use nova_core::internal::{failed, Ids, Refusal};
use nova_core::message_reports::{Evidence, EvidencePage, ReportMessage, ReportedSender};

use crate::crypto::MessageCipher;
use crate::store::reports;

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

/// The routes, protected by the router secret.
pub fn routes(db: Db, cipher: MessageCipher, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/messages/report", post(report))
        .route("/internal/messages/evidence", post(evidence))
        .with_state(Reports { db, cipher });
    nova_core::internal::protected(routes, router_secret)
}
