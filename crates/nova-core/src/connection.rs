//! Relay-style connections: opaque cursors and a bounded `first`.
//!
//! Every list in Nova is ordered by a UUIDv7 id (time-ordered), and pages are cut
//! with keyset conditions on that id (`id < cursor` or `id > cursor`), so a row
//! inserted while a client pages through never shifts or repeats an item.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::errors::bad_input;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

const CURSOR_PREFIX: &str = "nova:v1:";

/// The opaque cursor of an item.
pub fn encode_cursor(id: Uuid) -> String {
    encode_with(CURSOR_PREFIX, id)
}

/// The id inside a cursor, or `BAD_USER_INPUT` naming the argument.
pub fn decode_cursor(cursor: &str, argument: &str) -> async_graphql::Result<Uuid> {
    decode_with(cursor, CURSOR_PREFIX, argument, |id| {
        Uuid::parse_str(id).ok()
    })
}

const POSITION_CURSOR_PREFIX: &str = "nova:v1:pos:";

/// The opaque cursor of an item ordered by a number instead of an id (a chat
/// message's sequence number in its conversation, a notification's position).
pub fn encode_position_cursor(position: i64) -> String {
    encode_with(POSITION_CURSOR_PREFIX, position)
}

/// The number inside a position cursor, or `BAD_USER_INPUT` naming the argument.
pub fn decode_position_cursor(cursor: &str, argument: &str) -> async_graphql::Result<i64> {
    decode_with(cursor, POSITION_CURSOR_PREFIX, argument, |n| {
        n.parse::<i64>().ok().filter(|position| *position >= 0)
    })
}

const RANKED_CURSOR_PREFIX: &str = "nova:v1:rank:";

/// The opaque cursor of the item at `position` of a ranking fixed when its
/// first page was served (the feed's FOR_YOU): the ranking's id and the place.
pub fn encode_ranked_cursor(ranking: Uuid, position: usize) -> String {
    encode_with(RANKED_CURSOR_PREFIX, format!("{ranking}:{position}"))
}

/// The ranking and position inside a ranked cursor, or `BAD_USER_INPUT`.
pub fn decode_ranked_cursor(cursor: &str, argument: &str) -> async_graphql::Result<(Uuid, usize)> {
    decode_with(cursor, RANKED_CURSOR_PREFIX, argument, |value| {
        let (ranking, position) = value.split_once(':')?;
        Some((Uuid::parse_str(ranking).ok()?, position.parse().ok()?))
    })
}

/// A connection whose edges carry their own cursors.
pub fn connection_with_cursors<Node>(
    has_previous_page: bool,
    has_next_page: bool,
    edges: Vec<(String, Node)>,
) -> async_graphql::connection::Connection<String, Node>
where
    Node: async_graphql::OutputType,
{
    connection_of(has_previous_page, has_next_page, edges.into_iter())
}

fn encode_with(prefix: &str, value: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}{value}"))
}

/// The value after `prefix` in a cursor, as `parse` reads it.
fn decode_with<T>(
    cursor: &str,
    prefix: &str,
    argument: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> async_graphql::Result<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(prefix).and_then(parse))
        .ok_or_else(|| {
            bad_input(
                argument,
                format!("{argument} is not a cursor from this list"),
            )
        })
}

/// A page of a list ordered by a number, highest first (conversations by last
/// activity, notifications by position): `after` is the cursor of the last item
/// the client has, and the page holds the items below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionPage {
    pub size: i64,
    pub after: Option<i64>,
}

impl PositionPage {
    pub fn new(first: Option<i32>, after: Option<&str>) -> async_graphql::Result<Self> {
        Ok(Self {
            size: page_size(first, "first")?,
            after: after
                .map(|c| decode_position_cursor(c, "after"))
                .transpose()?,
        })
    }

    /// Rows to fetch: one more than asked, to learn whether there is a next page.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// The connection of `(position, node)` rows fetched with `limit`.
    pub fn connection<Node>(
        &self,
        mut rows: Vec<(i64, Node)>,
    ) -> async_graphql::connection::Connection<String, Node>
    where
        Node: async_graphql::OutputType,
    {
        let has_next_page = rows.len() as i64 > self.size;
        rows.truncate(self.size as usize);
        let edges = rows
            .into_iter()
            .map(|(position, node)| (encode_position_cursor(position), node));
        connection_of(self.after.is_some(), has_next_page, edges)
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// How many items the client asked for.
    pub first: i64,
    pub after: Option<Uuid>,
}

/// A page size argument (`first`, `last`): 20 when absent, else 1..=100, or
/// `BAD_USER_INPUT` naming the argument.
pub fn page_size(requested: Option<i32>, argument: &str) -> async_graphql::Result<i64> {
    let size = requested.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(bad_input(
            argument,
            format!("{argument} must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(i64::from(size))
}

impl PageRequest {
    /// `first` defaults to 20 and must be 1..=100; `after` must be a cursor.
    pub fn new(first: Option<i32>, after: Option<&str>) -> async_graphql::Result<Self> {
        let first = page_size(first, "first")?;
        let after = after.map(|c| decode_cursor(c, "after")).transpose()?;
        Ok(Self { first, after })
    }

    /// Rows to fetch: one more than asked, to learn whether there is a next page.
    pub fn limit(&self) -> i64 {
        self.first + 1
    }
}

/// Build a connection from `(cursor id, node)` pairs fetched with
/// `PageRequest::limit`.
pub fn connection<Node>(
    page: PageRequest,
    mut rows: Vec<(Uuid, Node)>,
) -> async_graphql::connection::Connection<String, Node>
where
    Node: async_graphql::OutputType,
{
    let has_next_page = rows.len() as i64 > page.first;
    rows.truncate(page.first as usize);
    let edges = rows.into_iter().map(|(id, node)| (encode_cursor(id), node));
    connection_of(page.after.is_some(), has_next_page, edges)
}

fn connection_of<Node>(
    has_previous_page: bool,
    has_next_page: bool,
    edges: impl Iterator<Item = (String, Node)>,
) -> async_graphql::connection::Connection<String, Node>
where
    Node: async_graphql::OutputType,
{
    let mut connection =
        async_graphql::connection::Connection::new(has_previous_page, has_next_page);
    connection
        .edges
        .extend(edges.map(|(cursor, node)| async_graphql::connection::Edge::new(cursor, node)));
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_cursors_round_trip_and_refuse_id_cursors() {
        assert_eq!(
            decode_position_cursor(&encode_position_cursor(42), "after").unwrap(),
            42
        );
        assert!(decode_position_cursor(&encode_cursor(Uuid::now_v7()), "after").is_err());
        assert!(decode_position_cursor("garbage", "after").is_err());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_bad_input() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id), "after").unwrap(), id);
        for garbage in ["", "abc", &URL_SAFE_NO_PAD.encode("nova:v1:not-a-uuid")] {
            let error = decode_cursor(garbage, "after").unwrap_err();
            let code = error.extensions.unwrap().get("code").unwrap().to_string();
            assert_eq!(code, "\"BAD_USER_INPUT\"");
        }
    }

    #[test]
    fn first_is_bounded() {
        assert_eq!(PageRequest::new(None, None).unwrap().first, 20);
        assert_eq!(PageRequest::new(Some(100), None).unwrap().limit(), 101);
        assert!(PageRequest::new(Some(101), None).is_err());
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(-5), None).is_err());
    }
}

/// A per-parent page (a user's posts, a post's comments) as a DataLoader key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub parent: Uuid,
    pub page: PageRequest,
}

/// Group a DataLoader batch by page request: each group is one SQL statement (in
/// practice nested lists share `first` and have no `after`, so one group).
pub fn group_by_page(keys: &[PageKey]) -> std::collections::HashMap<PageRequest, Vec<Uuid>> {
    let mut groups: std::collections::HashMap<PageRequest, Vec<Uuid>> = Default::default();
    for key in keys {
        groups.entry(key.page).or_default().push(key.parent);
    }
    groups
}

/// One page of a parent's list (`first`/`after` as the client sent them) through
/// its page loader `L`, as a connection of `edge(row)` = (cursor id, node).
pub async fn load_page<L, Row, Node>(
    ctx: &async_graphql::Context<'_>,
    parent: Uuid,
    first: Option<i32>,
    after: Option<String>,
    edge: fn(Row) -> (Uuid, Node),
) -> async_graphql::Result<async_graphql::connection::Connection<String, Node>>
where
    L: async_graphql::dataloader::Loader<PageKey, Value = Vec<Row>>,
    L::Error: std::fmt::Display,
    Node: async_graphql::OutputType,
{
    use crate::errors::OrInternal;
    let page = PageRequest::new(first, after.as_deref())?;
    let rows = ctx
        .data_unchecked::<async_graphql::dataloader::DataLoader<L>>()
        .load_one(PageKey { parent, page })
        .await
        .or_internal()?
        .unwrap_or_default();
    Ok(connection(page, rows.into_iter().map(edge).collect()))
}
