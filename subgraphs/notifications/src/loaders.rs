//! DataLoaders. None yet: every field of a notification is on its row (actors
//! and posts are entity references the router resolves from users and content
//! in one `_entities` batch per page).
