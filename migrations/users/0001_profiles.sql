-- Profile fields of a user. A user without a row has the default (empty) profile.
CREATE TABLE profiles (
    user_id      uuid PRIMARY KEY,
    display_name text,
    bio          text        NOT NULL DEFAULT '',
    avatar_url   text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
