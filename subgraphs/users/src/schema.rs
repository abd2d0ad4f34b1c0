//! The users subgraph's GraphQL schema: types and resolvers.

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptySubscription, InputObject, MaybeUndefined, Object, Result, Schema, SchemaBuilder,
    ID,
};
use nova_core::attachments::{attach, avatar_use, refusal_error, release, AttachRequest};
use nova_core::db::Db;
use nova_core::entities::Media as MediaRef;
use nova_core::errors::{bad_input, parse_id, OrInternal};
use nova_core::internal::InternalClient;
use nova_core::sdl::authenticated;
use nova_core::Caller;
use uuid::Uuid;

use crate::loaders::ProfileLoader;
use crate::store::{self, Profile, ProfileChange};

pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;

pub const DISPLAY_NAME_MAX_CHARS: usize = 50;
pub const BIO_MAX_CHARS: usize = 280;
pub const AVATAR_URL_MAX_CHARS: usize = 2048;

pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, EmptySubscription)
}

/// media's `/internal/media/*` routes: an avatar is attached at the write.
pub struct MediaOwner(pub InternalClient);

pub fn build(db: Db, media: InternalClient) -> UsersSchema {
    let profiles = nova_core::batching::loader(ProfileLoader { db: db.clone() });
    builder()
        .data(db)
        .data(profiles)
        .data(MediaOwner(media))
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

/// The profile part of a Nova user.
pub struct User {
    id: Uuid,
    profile: Profile,
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The name to show; null until the user sets one (show the username then).
    async fn display_name(&self) -> Option<&str> {
        self.profile.display_name.as_deref()
    }

    /// Empty until the user writes one.
    async fn bio(&self) -> &str {
        &self.profile.bio
    }

    async fn avatar_url(&self) -> Option<&str> {
        self.profile.avatar_url.as_deref()
    }

    /// The uploaded avatar, with its sizes (`updateProfile(avatarMediaId)`).
    async fn avatar(&self) -> Option<MediaRef> {
        self.profile.avatar_media_id.map(MediaRef::of)
    }
}

async fn load_user(ctx: &Context<'_>, id: Uuid) -> Result<User> {
    let profile = ctx
        .data_unchecked::<DataLoader<ProfileLoader>>()
        .load_one(id)
        .await
        .or_internal()?
        .unwrap_or_default();
    Ok(User { id, profile })
}

pub struct Query;

#[Object]
impl Query {
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        match Uuid::parse_str(id.as_str()) {
            Ok(id) => Ok(Some(load_user(ctx, id).await?)),
            Err(_) => Ok(None),
        }
    }
}

/// Fields left out stay as they are; `null` or `""` clears a field.
#[derive(InputObject, Default)]
pub struct UpdateProfileInput {
    pub display_name: MaybeUndefined<String>,
    pub bio: MaybeUndefined<String>,
    pub avatar_url: MaybeUndefined<String>,
    /// One of your READY image media; null removes the avatar.
    pub avatar_media_id: MaybeUndefined<ID>,
}

/// `Some(None)` clears, `Some(Some(v))` sets, `None` leaves the field alone.
fn clearable(value: &MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) if v.trim().is_empty() => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.trim().to_string())),
    }
}

/// Validate the input and turn it into a store change.
pub fn profile_change(input: &UpdateProfileInput) -> Result<ProfileChange> {
    let display_name = clearable(&input.display_name);
    if let Some(Some(name)) = &display_name {
        if name.chars().count() > DISPLAY_NAME_MAX_CHARS {
            return Err(bad_input(
                "displayName",
                format!("displayName must be at most {DISPLAY_NAME_MAX_CHARS} characters"),
            ));
        }
    }
    let bio = clearable(&input.bio).map(|bio| bio.unwrap_or_default());
    if let Some(bio) = &bio {
        if bio.chars().count() > BIO_MAX_CHARS {
            return Err(bad_input(
                "bio",
                format!("bio must be at most {BIO_MAX_CHARS} characters"),
            ));
        }
    }
    let avatar_url = clearable(&input.avatar_url);
    if let Some(Some(url)) = &avatar_url {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() > AVATAR_URL_MAX_CHARS || url.chars().any(char::is_whitespace) {
            return Err(bad_input(
                "avatarUrl",
                format!(
                    "avatarUrl must be an http(s) URL of at most {AVATAR_URL_MAX_CHARS} characters"
                ),
            ));
        }
    }
    let avatar_media_id = match &input.avatar_media_id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(parse_id(id, "avatarMediaId")?)),
    };
    Ok(ProfileChange {
        display_name,
        bio,
        avatar_url,
        avatar_media_id,
    })
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Change the signed-in user's profile.
    #[graphql(directive = authenticated::apply())]
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let user_id = Caller::of(ctx).require_user()?;
        let change = profile_change(&input)?;
        if let Some(Some(media_id)) = change.avatar_media_id {
            let request = AttachRequest {
                owner: user_id,
                media_ids: vec![media_id],
                used_by: avatar_use(user_id),
            };
            let media = &ctx.data_unchecked::<MediaOwner>().0;
            let answer = attach(media, &request).await.or_internal()?;
            if !answer.refused.is_empty() {
                return Err(refusal_error("avatarMediaId", &answer.refused));
            }
        }
        let db = ctx.data_unchecked::<Db>();
        let profile = store::update_profile(db, user_id, &change)
            .await
            .or_internal()?;
        if change.avatar_media_id == Some(None) {
            // Released after the profile no longer shows it, so a failed write
            // never leaves a profile pointing at deleted media. Should media not
            // answer, the old avatar stays unshown until the next avatar
            // replaces it (which deletes it then).
            let request = AttachRequest {
                owner: user_id,
                media_ids: Vec::new(),
                used_by: avatar_use(user_id),
            };
            let media = &ctx.data_unchecked::<MediaOwner>().0;
            if let Err(error) = release(media, &request).await {
                tracing::warn!(%error, "the removed avatar's media was not released");
            }
        }
        Ok(User {
            id: user_id,
            profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(input: UpdateProfileInput) -> String {
        let error = profile_change(&input).expect_err("input should be refused");
        let ext = error.extensions.expect("extensions");
        assert_eq!(ext.get("code").unwrap().to_string(), "\"BAD_USER_INPUT\"");
        ext.get("field").unwrap().to_string()
    }

    #[test]
    fn lengths_and_urls_are_validated() {
        let long = |n| MaybeUndefined::Value("x".repeat(n));
        assert_eq!(
            field_of(UpdateProfileInput {
                display_name: long(DISPLAY_NAME_MAX_CHARS + 1),
                ..Default::default()
            }),
            "\"displayName\""
        );
        assert_eq!(
            field_of(UpdateProfileInput {
                bio: long(BIO_MAX_CHARS + 1),
                ..Default::default()
            }),
            "\"bio\""
        );
        assert_eq!(
            field_of(UpdateProfileInput {
                avatar_url: MaybeUndefined::Value("javascript:alert(1)".into()),
                ..Default::default()
            }),
            "\"avatarUrl\""
        );
        assert_eq!(
            field_of(UpdateProfileInput {
                avatar_media_id: MaybeUndefined::Value(ID("not-an-id".into())),
                ..Default::default()
            }),
            "\"avatarMediaId\""
        );
        let ok = profile_change(&UpdateProfileInput {
            display_name: long(DISPLAY_NAME_MAX_CHARS),
            bio: MaybeUndefined::Null,
            avatar_url: MaybeUndefined::Undefined,
            avatar_media_id: MaybeUndefined::Undefined,
        })
        .unwrap();
        assert_eq!(ok.bio, Some(String::new()));
        assert_eq!(ok.avatar_url, None);
    }

    #[test]
    fn sdl_extends_user_and_guards_update_profile() {
        let sdl = sdl();
        assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
        assert!(sdl.contains("@authenticated"), "{sdl}");
    }
}
