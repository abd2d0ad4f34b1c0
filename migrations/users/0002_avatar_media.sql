-- The uploaded avatar (a media id, owned by media; attached at updateProfile).
ALTER TABLE profiles ADD COLUMN avatar_media_id uuid;
