-- Each subgraph owns its database; the registry has its own (compose.yaml).
CREATE DATABASE nova_identity;
CREATE DATABASE nova_users;
CREATE DATABASE nova_content;
CREATE DATABASE nova_social;
CREATE DATABASE nova_chat;
CREATE DATABASE nova_notifications;
CREATE DATABASE nova_feed;
CREATE DATABASE nova_search;
CREATE DATABASE nova_media;
CREATE DATABASE nova_analytics;
CREATE DATABASE nova_registry;
