//! The payload of the view events (`feed.posts_viewed`, `content.post_viewed`):
//! the views one writer batched (`nova_core::views`), many viewers' pages in one
//! event, so a busy feed publishes a handful of events a second instead of one
//! per page.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "PostsViewedOnTheWire")]
pub struct PostsViewed {
    pub views: Vec<View>,
}

/// One page served: its posts, each a view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    /// Who saw them; null for a signed-out viewer.
    #[serde(default)]
    pub viewer_id: Option<Uuid>,
    pub posts: Vec<ViewedPost>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewedPost {
    pub post_id: Uuid,
    pub author_id: Uuid,
}

/// Events written before batching carried one view as the payload itself;
/// they are read as a batch of one.
#[derive(Deserialize)]
#[serde(untagged)]
enum PostsViewedOnTheWire {
    Batch { views: Vec<View> },
    One(View),
}

impl From<PostsViewedOnTheWire> for PostsViewed {
    fn from(wire: PostsViewedOnTheWire) -> Self {
        match wire {
            PostsViewedOnTheWire::Batch { views } => Self { views },
            PostsViewedOnTheWire::One(view) => Self { views: vec![view] },
        }
    }
}

impl PostsViewed {
    /// The Kafka key: the first view's viewer. Views keep no order, so any
    /// key will do; this one spreads the batches over the partitions.
    pub fn key(&self) -> Uuid {
        self.views
            .first()
            .and_then(|view| view.viewer_id)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_round_trips() {
        let viewed = PostsViewed {
            views: vec![View {
                viewer_id: Some(Uuid::now_v7()),
                posts: vec![ViewedPost {
                    post_id: Uuid::now_v7(),
                    author_id: Uuid::now_v7(),
                }],
            }],
        };
        let text = serde_json::to_string(&viewed).unwrap();
        assert_eq!(serde_json::from_str::<PostsViewed>(&text).unwrap(), viewed);
    }

    #[test]
    fn a_single_view_written_before_batching_reads_as_a_batch_of_one() {
        let (viewer, post, author) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let old = json!({ "viewerId": viewer, "posts": [{ "postId": post, "authorId": author }] });
        let read: PostsViewed = serde_json::from_value(old).unwrap();
        assert_eq!(
            read,
            PostsViewed {
                views: vec![View {
                    viewer_id: Some(viewer),
                    posts: vec![ViewedPost {
                        post_id: post,
                        author_id: author
                    }],
                }],
            }
        );
    }
}
