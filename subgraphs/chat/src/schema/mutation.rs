//! What clients change: conversations, members, messages, read markers.

use super::*;

pub struct Mutation;

#[Object]
impl Mutation {
    /// The caller's direct conversation with `userId` (the same one every time).
    #[graphql(directive = authenticated::apply())]
    async fn start_direct_conversation(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let other = parse_id(&user_id, "userId")?;
        if other == me {
            return Err(bad_input(
                "userId",
                "a direct conversation needs another user",
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        store::start_direct(db, ctx.data_unchecked::<Blocks>(), me, other)
            .await
            .map(Conversation)
            .map_err(chat_error)
    }

    /// A new group of the caller and `memberIds`.
    #[graphql(directive = authenticated::apply())]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        title: String,
        member_ids: Vec<ID>,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(bad_input(
                "title",
                format!("a title has 1 to {MAX_TITLE_CHARS} characters"),
            ));
        }
        let members = user_ids(&member_ids, "memberIds")?;
        let db = ctx.data_unchecked::<Db>();
        store::create_group(db, ctx.data_unchecked::<Blocks>(), me, title, &members)
            .await
            .map(Conversation)
            .map_err(chat_error)
    }

    /// Add users to a group the caller is in.
    #[graphql(directive = authenticated::apply())]
    async fn add_members(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let members = self::user_ids(&user_ids, "userIds")?;
        let db = ctx.data_unchecked::<Db>();
        let conversation = store::add_members(db, ctx.data_unchecked::<Blocks>(), id, me, &members)
            .await
            .map_err(chat_error)?;
        let hub = ctx.data_unchecked::<ChatHub>();
        for member in members {
            let event = LiveChatEvent::membership(
                ChatEventKind::MemberJoined,
                id,
                member,
                conversation.last_seq,
            );
            hub.publish(id, event).await;
        }
        Ok(Conversation(conversation))
    }

    /// Leave a conversation: no more messages or events from it (the caller's
    /// open `chatEvents` of it end; the others see MEMBER_LEFT).
    #[graphql(directive = authenticated::apply())]
    async fn leave(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<bool> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let db = ctx.data_unchecked::<Db>();
        let last_seq = store::leave(db, id, me).await.map_err(chat_error)?;
        let event = LiveChatEvent::membership(ChatEventKind::MemberLeft, id, me, last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(true)
    }

    /// Send a message. `clientMessageId` is the client's own id for this send:
    /// sending again with the same one (a retry after a timeout) returns the
    /// message already stored instead of a second one.
    #[graphql(directive = authenticated::apply())]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        body: String,
        client_message_id: String,
    ) -> Result<Message> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        if body.trim().is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(bad_input(
                "body",
                format!("a message has 1 to {MAX_BODY_CHARS} characters"),
            ));
        }
        let client_id = client_message_id.trim();
        if client_id.is_empty() || client_id.chars().count() > MAX_CLIENT_MESSAGE_ID_CHARS {
            return Err(bad_input(
                "clientMessageId",
                format!("clientMessageId has 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters"),
            ));
        }
        let db = ctx.data_unchecked::<Db>();
        let cipher = ctx.data_unchecked::<MessageCipher>();
        let outgoing = store::Outgoing {
            conversation_id: id,
            sender: me,
            body: &body,
            client_message_id: client_id,
        };
        let sent = store::send_message(db, ctx.data_unchecked::<Blocks>(), cipher, outgoing)
            .await
            .map_err(chat_error)?;
        let message = match sent {
            Sent::Repeated(message) => message,
            Sent::New { message, .. } => {
                let event = LiveChatEvent::message(message.clone());
                ctx.data_unchecked::<ChatHub>().publish(id, event).await;
                message
            }
        };
        Ok(Message(message))
    }

    /// Mark messages read up to (and including) the message of cursor `upTo`.
    #[graphql(directive = authenticated::apply())]
    async fn mark_read(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        up_to: String,
    ) -> Result<Conversation> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let up_to = decode_position_cursor(&up_to, "upTo")?;
        let db = ctx.data_unchecked::<Db>();
        let (read_up_to, conversation) = store::mark_read(db, id, me, up_to)
            .await
            .map_err(chat_error)?;
        let event = LiveChatEvent::read_receipt(id, me, read_up_to, conversation.last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(Conversation(conversation))
    }

    /// Tell the other members the caller is (or stopped) typing. Not stored.
    #[graphql(directive = authenticated::apply())]
    async fn set_typing(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        typing: bool,
    ) -> Result<bool> {
        let me = Caller::of(ctx).require_user()?;
        let id = self::conversation_id(&conversation_id)?;
        let db = ctx.data_unchecked::<Db>();
        let conversation = store::member_conversation(db, id, me)
            .await
            .map_err(chat_error)?;
        let event = LiveChatEvent::typing(id, me, typing, conversation.last_seq);
        ctx.data_unchecked::<ChatHub>().publish(id, event).await;
        Ok(true)
    }
}
