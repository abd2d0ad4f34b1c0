//! Chat's limits hold when requests race: a group never grows past its cap,
//! however many additions arrive at once.

use futures::future::join_all;
use nova_e2e::Stack;
use serde_json::{json, Value};
use uuid::Uuid;

const CREATE_GROUP: &str =
    "mutation($m: [ID!]!) { createGroup(title: \"crowd\", memberIds: $m) { id } }";
const ADD_MEMBERS: &str =
    "mutation($c: ID!, $u: [ID!]!) { addMembers(conversationId: $c, userIds: $u) { id } }";
/// chat's cap (`MAX_GROUP_MEMBERS`), creator included.
const MAX_GROUP_MEMBERS: usize = 256;

/// Ids of users chat has not seen: chat keeps members by id only.
fn strangers(n: usize) -> Vec<Value> {
    (0..n).map(|_| json!(Uuid::now_v7())).collect()
}

async fn members(stack: &Stack, group: &str) -> i64 {
    let mut db = stack.connect("chat").await.expect("database");
    sqlx::query_scalar(
        "SELECT count(*) FROM conversation_members WHERE conversation_id = $1 AND left_at IS NULL",
    )
    .bind(Uuid::parse_str(group).unwrap())
    .fetch_one(&mut db)
    .await
    .expect("members counted")
}

#[tokio::test]
async fn racing_additions_never_grow_a_group_past_its_cap() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, ann) = stack.sign_up("ann").await;
    for round in 0..10 {
        let created = stack
            .graphql(Some(&ann), CREATE_GROUP, json!({ "m": strangers(5) }))
            .await;
        let group = created.expect_ok()["createGroup"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // 6 + 5 × 50 = 256 fits; the sixth batch of 50 cannot, whichever comes last.
        let additions = (0..6).map(|_| {
            let variables = json!({ "c": group, "u": strangers(50) });
            stack.graphql(Some(&ann), ADD_MEMBERS, variables)
        });
        let responses = join_all(additions).await;
        let refused: Vec<_> = responses
            .iter()
            .filter(|r| r.body.get("errors").is_some())
            .collect();
        assert_eq!(refused.len(), 1, "round {round}: {refused:#?}");
        assert_eq!(refused[0].error_codes(), ["BAD_USER_INPUT"]);
        assert_eq!(members(&stack, &group).await, MAX_GROUP_MEMBERS as i64);
    }
    // A full group refuses even one more, and says why.
    let created = stack
        .graphql(Some(&ann), CREATE_GROUP, json!({ "m": strangers(99) }))
        .await;
    let group = created.expect_ok()["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..(MAX_GROUP_MEMBERS - 100) / 78 {
        stack
            .graphql(
                Some(&ann),
                ADD_MEMBERS,
                json!({ "c": group, "u": strangers(78) }),
            )
            .await
            .expect_ok();
    }
    let one_more = stack
        .graphql(
            Some(&ann),
            ADD_MEMBERS,
            json!({ "c": group, "u": strangers(1) }),
        )
        .await;
    assert_eq!(one_more.error_codes(), ["BAD_USER_INPUT"]);
    let message = one_more.body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, "a group has at most 256 members");
}
