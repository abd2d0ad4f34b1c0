//! A front-end client's journey through the router: register, login, `me` across
//! both subgraphs, updateProfile, refresh rotation, reuse detection, logout; signUp,
//! login by username and changePassword.

use nova_e2e::{Response, Stack};
use serde_json::{json, Value};

const REGISTER: &str = "mutation($email: String!, $username: String!, $password: String!) {
  register(email: $email, username: $username, password: $password) { id username email }
}";
const LOGIN: &str = "mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id username } }
}";
const REFRESH: &str = "mutation($token: String!) {
  refreshSession(refreshToken: $token) { accessToken refreshToken }
}";
const ME: &str = "{ me { id username email createdAt displayName bio avatarUrl } }";

async fn register(stack: &Stack, email: &str, username: &str, password: &str) -> Response {
    stack
        .graphql(
            None,
            REGISTER,
            json!({ "email": email, "username": username, "password": password }),
        )
        .await
}

fn field_of_first_error(response: &Response) -> Value {
    response.body["errors"][0]["extensions"]["field"].clone()
}

#[tokio::test]
async fn account_lifecycle_through_the_router() {
    let stack = Stack::start().await.expect("stack starts");
    let password = "correct horse battery";

    // Register, and every kind of bad registration input.
    let registered = register(&stack, "ann@example.com", "ann", password).await;
    let user = registered.expect_ok()["register"].clone();
    let user_id = user["id"].as_str().unwrap().to_string();
    assert_eq!(user["username"], "ann");
    assert_eq!(user["email"], Value::Null, "not signed in: email is hidden");

    for (email, username, pw, field) in [
        ("ANN@example.com", "ann2", password, "email"),
        ("bob@example.com", "ANN", password, "username"),
        ("bob@example.com", "bob", "short", "password"),
        ("not-an-email", "bob", password, "email"),
    ] {
        let refused = register(&stack, email, username, pw).await;
        assert_eq!(
            refused.error_codes(),
            vec!["BAD_USER_INPUT"],
            "{email} {username}"
        );
        assert_eq!(field_of_first_error(&refused), field, "{:#}", refused.body);
    }

    // A wrong password and an unknown email get the same answer.
    for (email, pw) in [
        ("ann@example.com", "wrong password!"),
        ("nobody@example.com", password),
    ] {
        let refused = stack
            .graphql(None, LOGIN, json!({ "email": email, "password": pw }))
            .await;
        assert_eq!(refused.error_codes(), vec!["UNAUTHENTICATED"]);
        assert_eq!(
            refused.body["errors"][0]["message"],
            "email, username or password is wrong"
        );
    }

    let login = stack
        .graphql(
            None,
            LOGIN,
            json!({ "email": "ann@example.com", "password": password }),
        )
        .await;
    let session = login.expect_ok()["login"].clone();
    let access = session["accessToken"].as_str().unwrap().to_string();
    let first_refresh = session["refreshToken"].as_str().unwrap().to_string();
    assert_eq!(session["user"]["id"], user_id.as_str());

    // `me`: identity's fields and users' fields in one query, defaults before a profile.
    let me = stack.graphql(Some(&access), ME, json!({})).await;
    let me = me.expect_ok()["me"].clone();
    assert_eq!(me["id"], user_id.as_str());
    assert_eq!(me["username"], "ann");
    assert_eq!(
        me["email"], "ann@example.com",
        "the user sees their own email"
    );
    assert_eq!(me["displayName"], Value::Null);
    assert_eq!(me["bio"], "");
    assert_eq!(me["avatarUrl"], Value::Null);

    // updateProfile, answered with a field from the other subgraph too.
    let update = "mutation($input: UpdateProfileInput!) {
      updateProfile(input: $input) { id username displayName bio avatarUrl }
    }";
    let updated = stack
        .graphql(
            Some(&access),
            update,
            json!({ "input": { "displayName": "Ann A.", "bio": "hello", "avatarUrl": "https://cdn.example.com/a.png" } }),
        )
        .await;
    let updated = updated.expect_ok()["updateProfile"].clone();
    assert_eq!(updated["username"], "ann");
    assert_eq!(updated["displayName"], "Ann A.");
    assert_eq!(updated["bio"], "hello");

    let too_long = stack
        .graphql(
            Some(&access),
            update,
            json!({ "input": { "bio": "x".repeat(281) } }),
        )
        .await;
    assert_eq!(too_long.error_codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(field_of_first_error(&too_long), "bio");

    // Leaving a field out keeps it; the refused update changed nothing.
    let partial = stack
        .graphql(
            Some(&access),
            update,
            json!({ "input": { "avatarUrl": null } }),
        )
        .await;
    let partial = partial.expect_ok()["updateProfile"].clone();
    assert_eq!(partial["displayName"], "Ann A.");
    assert_eq!(partial["bio"], "hello");
    assert_eq!(partial["avatarUrl"], Value::Null);

    // Someone else (anonymous) sees the profile but not the email.
    let public = stack
        .graphql(
            None,
            "query($name: String!) { userByUsername(username: $name) { id email displayName } }",
            json!({ "name": "ANN" }),
        )
        .await;
    let public = public.expect_ok()["userByUsername"].clone();
    assert_eq!(public["id"], user_id.as_str());
    assert_eq!(public["email"], Value::Null);
    assert_eq!(public["displayName"], "Ann A.");
    let by_id = stack
        .graphql(
            None,
            "query($id: ID!) { user(id: $id) { username } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(by_id.expect_ok()["user"]["username"], "ann");

    // Refresh rotates: a new refresh token, a working access token.
    let rotated = stack
        .graphql(None, REFRESH, json!({ "token": first_refresh }))
        .await;
    let rotated = rotated.expect_ok()["refreshSession"].clone();
    let second_refresh = rotated["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh);
    let me_again = stack
        .graphql(
            rotated["accessToken"].as_str(),
            "{ me { username } }",
            json!({}),
        )
        .await;
    assert_eq!(me_again.expect_ok()["me"]["username"], "ann");

    // Reusing the rotated token is refused and revokes the whole family...
    let reused = stack
        .graphql(None, REFRESH, json!({ "token": first_refresh }))
        .await;
    assert_eq!(reused.error_codes(), vec!["UNAUTHENTICATED"]);
    // ...so the token that was still current stops working too.
    let after_reuse = stack
        .graphql(None, REFRESH, json!({ "token": second_refresh }))
        .await;
    assert_eq!(after_reuse.error_codes(), vec!["UNAUTHENTICATED"]);

    // Logout revokes a fresh session.
    let relogin = stack
        .graphql(
            None,
            LOGIN,
            json!({ "email": "ann@example.com", "password": password }),
        )
        .await;
    let third_refresh = relogin.expect_ok()["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let logout = stack
        .graphql(
            None,
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": third_refresh }),
        )
        .await;
    assert_eq!(logout.expect_ok()["logout"], true);
    let after_logout = stack
        .graphql(None, REFRESH, json!({ "token": third_refresh }))
        .await;
    assert_eq!(after_logout.error_codes(), vec!["UNAUTHENTICATED"]);
    let garbage = stack
        .graphql(None, REFRESH, json!({ "token": "nrt_nonsense" }))
        .await;
    assert_eq!(garbage.error_codes(), vec!["UNAUTHENTICATED"]);
}

const SIGN_UP: &str = "mutation($email: String!, $username: String!, $password: String!) {
  signUp(email: $email, username: $username, password: $password) {
    accessToken refreshToken user { id username }
  }
}";
const LOGIN_BY_USERNAME: &str = "mutation($username: String!, $password: String!) {
  login(username: $username, password: $password) { accessToken refreshToken user { id } }
}";
const CHANGE_PASSWORD: &str = "mutation($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}";

#[tokio::test]
async fn sign_up_signs_in_and_a_password_change_signs_out_every_other_session() {
    let stack = Stack::start().await.expect("stack starts");
    let old_password = "correct horse battery";
    let new_password = "staple horse battery";

    // signUp: the account and its first session in one call.
    let signed_up = stack
        .graphql(
            None,
            SIGN_UP,
            json!({ "email": "cat@example.com", "username": "Cat", "password": old_password }),
        )
        .await;
    let first = signed_up.expect_ok()["signUp"].clone();
    let user_id = first["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(first["user"]["username"], "Cat");
    let first_access = first["accessToken"].as_str().unwrap().to_string();
    let first_refresh = first["refreshToken"].as_str().unwrap().to_string();
    let me = stack
        .graphql(Some(&first_access), "{ me { id } }", json!({}))
        .await;
    assert_eq!(me.expect_ok()["me"]["id"], user_id.as_str());
    let taken = stack
        .graphql(
            None,
            SIGN_UP,
            json!({ "email": "cat2@example.com", "username": "CAT", "password": old_password }),
        )
        .await;
    assert_eq!(taken.error_codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(field_of_first_error(&taken), "username");

    // Login by username, whatever its case: a second session.
    let by_username = stack
        .graphql(
            None,
            LOGIN_BY_USERNAME,
            json!({ "username": "cAT", "password": old_password }),
        )
        .await;
    let second = by_username.expect_ok()["login"].clone();
    assert_eq!(second["user"]["id"], user_id.as_str());
    let second_refresh = second["refreshToken"].as_str().unwrap().to_string();
    let unknown = stack
        .graphql(
            None,
            LOGIN_BY_USERNAME,
            json!({ "username": "nobody", "password": old_password }),
        )
        .await;
    assert_eq!(unknown.error_codes(), vec!["UNAUTHENTICATED"]);
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "email, username or password is wrong"
    );
    // Exactly one of email and username.
    let either = "mutation($email: String, $username: String, $password: String!) {
      login(email: $email, username: $username, password: $password) { accessToken }
    }";
    for (email, username) in [
        (json!("cat@example.com"), json!("cat")),
        (json!(null), json!(null)),
    ] {
        let refused = stack
            .graphql(
                None,
                either,
                json!({ "email": email, "username": username, "password": old_password }),
            )
            .await;
        assert_eq!(
            refused.error_codes(),
            vec!["BAD_USER_INPUT"],
            "{email} {username}"
        );
        assert_eq!(field_of_first_error(&refused), "email");
    }

    // changePassword: refused without a session, with a wrong current password and
    // with a too short new one, and nothing changes.
    let anonymous = stack
        .graphql(
            None,
            CHANGE_PASSWORD,
            json!({ "current": old_password, "new": new_password }),
        )
        .await;
    assert_eq!(anonymous.error_codes(), vec!["UNAUTHENTICATED"]);
    for (current, new, field) in [
        ("wrong password!", new_password, "currentPassword"),
        (old_password, "short", "newPassword"),
    ] {
        let refused = stack
            .graphql(
                Some(&first_access),
                CHANGE_PASSWORD,
                json!({ "current": current, "new": new }),
            )
            .await;
        assert_eq!(refused.error_codes(), vec!["BAD_USER_INPUT"], "{field}");
        assert_eq!(field_of_first_error(&refused), field);
    }
    let changed = stack
        .graphql(
            Some(&first_access),
            CHANGE_PASSWORD,
            json!({ "current": old_password, "new": new_password }),
        )
        .await;
    assert_eq!(changed.expect_ok()["changePassword"], true);

    // The old password no longer signs in; the new one does.
    let old = stack
        .graphql(
            None,
            LOGIN_BY_USERNAME,
            json!({ "username": "cat", "password": old_password }),
        )
        .await;
    assert_eq!(old.error_codes(), vec!["UNAUTHENTICATED"]);
    let new = stack
        .graphql(
            None,
            LOGIN,
            json!({ "email": "cat@example.com", "password": new_password }),
        )
        .await;
    assert_eq!(new.expect_ok()["login"]["user"]["id"], user_id.as_str());

    // The other session is signed out; the one that changed the password is not.
    let other = stack
        .graphql(None, REFRESH, json!({ "token": second_refresh }))
        .await;
    assert_eq!(other.error_codes(), vec!["UNAUTHENTICATED"]);
    let kept = stack
        .graphql(None, REFRESH, json!({ "token": first_refresh }))
        .await;
    assert!(kept.expect_ok()["refreshSession"]["accessToken"].is_string());
}
