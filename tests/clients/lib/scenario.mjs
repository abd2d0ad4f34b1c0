// Every shipped operation, run by one client library the way the app uses them:
// three people sign up, follow, post, like, comment, search and chat, with live
// feed, notification and chat streams open. Each operation must succeed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { resetCodeFor } from "./mail.mjs";
import { shipped, subgraphUrl } from "./operations.mjs";
import { eventually, waitForOpenSubscriptions } from "./stream.mjs";

/** The subgraphs serving the scenario's streams (one stream each). */
const LIVE_SUBGRAPHS = ["notifications", "feed", "chat"];
const streamsOpen = (subgraph, count) => waitForOpenSubscriptions(subgraphUrl(subgraph), count);

const PASSWORD = "a long enough password";
/** A 1 × 1 PNG: the photo the scenario uploads. */
const PIXEL_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/**
 * Upload a photo as a web app does: an intent, a PUT of the bytes straight to the
 * store (fetch sets Content-Length itself), completion, then waiting for processing.
 * Returns the READY media's id.
 */
async function uploadPhoto(person) {
  const { createUploadIntent: intent } = await person.run("CreateUploadIntent", {
    kind: "IMAGE",
    contentType: "image/png",
    byteSize: PIXEL_PNG.length,
  });
  const headers = Object.fromEntries(
    intent.requiredHeaders
      .filter((header) => header.name.toLowerCase() !== "content-length")
      .map((header) => [header.name, header.value]),
  );
  const put = await fetch(intent.uploadUrl, { method: "PUT", headers, body: PIXEL_PNG });
  assert.equal(put.status, 200, "the store takes the upload");
  const mediaId = intent.media.id;
  await person.run("CompleteUpload", { mediaId });
  await eventually("the photo processed", async () => {
    const { media } = await person.run("MediaStatus", { id: mediaId });
    return media.status === "READY" ? true : undefined;
  });
  return mediaId;
}
const NEW_PASSWORD = "another long password";

/**
 * Run the scenario with `makeClient({ token, requests })`; returns the names of the
 * operations it ran. Every HTTP request any of its clients made lands in `requests`.
 */
export async function runEveryOperation(makeClient, requests) {
  const ran = new Set();
  const clients = [];
  const subscriptions = [];
  const open = (token) => {
    const client = makeClient({ token, requests });
    clients.push(client);
    return {
      async run(name, variables = {}) {
        ran.add(name);
        const { data, errors } = await client.run(shipped.get(name), variables);
        assert.deepEqual(errors, [], `${name} (${client.transport}) answered errors`);
        return data;
      },
      subscribe(name, variables = {}) {
        ran.add(name);
        const events = client.subscribe(`${name} (${client.transport})`, shipped.get(name), variables);
        subscriptions.push(events);
        return events;
      },
    };
  };
  const suffix = randomUUID().slice(0, 8);
  // An earlier run's streams are closed: each count below is this run's.
  for (const subgraph of LIVE_SUBGRAPHS) await streamsOpen(subgraph, 0);
  try {
    // Sign up and sign in.
    const anonymous = open(null);
    const people = {};
    for (const name of ["ann", "bob"]) {
      const username = `${name}_${suffix}`;
      const email = `${username}@example.com`;
      const { register } = await anonymous.run("Register", { email, username, password: PASSWORD });
      assert.equal(register.username, username);
      // Ann signs in by e-mail, bob by username.
      const { login } =
        name === "ann"
          ? await anonymous.run("Login", { email, password: PASSWORD })
          : await anonymous.run("LoginByUsername", { username, password: PASSWORD });
      people[name] = { id: register.id, username, email, session: login };
    }
    // Cyd signs up and is signed in by the same call.
    const cydName = `cyd_${suffix}`;
    const { signUp } = await anonymous.run("SignUp", {
      email: `${cydName}@example.com`,
      username: cydName,
      password: PASSWORD,
    });
    assert.equal(signUp.user.username, cydName);
    people.cyd = { id: signUp.user.id, username: cydName, email: `${cydName}@example.com`, session: signUp };
    const { refreshSession } = await anonymous.run("RefreshSession", {
      refreshToken: people.ann.session.refreshToken,
    });
    const ann = open(refreshSession.accessToken);
    const bob = open(people.bob.session.accessToken);

    const { me } = await ann.run("Me");
    assert.equal(me.username, people.ann.username);
    const { updateProfile } = await ann.run("UpdateProfile", {
      input: { displayName: "Ann", bio: "Writes about #nova" },
    });
    assert.equal(updateProfile.displayName, "Ann");

    // Ann's notification stream first, then what it reports.
    const annNotifications = ann.subscribe("NotificationAdded");
    await streamsOpen("notifications", 1);
    const { createPost: firstPost } = await ann.run("CreatePost", { body: `hello #nova ${suffix}` });
    const { followUser } = await bob.run("FollowUser", { userId: people.ann.id });
    assert.ok(followUser, "FollowUser answered nothing");
    await annNotifications.next((event) => event.notificationAdded.kind === "FOLLOWED");

    // Following brings ann's post into bob's feed; reading it makes bob a reader,
    // whom ann's next post reaches live.
    await eventually("ann's post in bob's feed", async () => {
      const { homeFeed } = await bob.run("HomeFeed", { first: 10 });
      return homeFeed.edges.some((edge) => edge.node.id === firstPost.id) ? true : undefined;
    });
    const bobFeed = bob.subscribe("HomeFeedUpdated");
    await streamsOpen("feed", 1);
    const { createPost } = await ann.run("CreatePost", { body: `more #nova ${suffix}` });
    const postId = createPost.id;
    await bobFeed.next((event) => event.homeFeedUpdated.post.id === postId);

    await bob.run("LikePost", { postId });
    await annNotifications.next((event) => event.notificationAdded.kind === "POST_LIKED");
    await bob.run("UnlikePost", { postId });
    const { addComment } = await bob.run("AddComment", { postId, body: "nice" });
    await bob.run("DeleteComment", { id: addComment.id });
    const { editPost } = await ann.run("EditPost", { id: postId, body: `hello again #nova ${suffix}` });
    assert.ok(editPost.editedAt, "an edited post has editedAt");

    // A photo post, and a photo as avatar.
    const photoId = await uploadPhoto(ann);
    const { createPost: photoPost } = await ann.run("CreatePhotoPost", {
      body: `a photo ${suffix}`,
      mediaIds: [photoId],
    });
    assert.equal(photoPost.media[0].id, photoId);
    assert.equal(photoPost.media[0].variants[0].width, 1);
    const avatarId = await uploadPhoto(ann);
    const { updateProfile: withAvatar } = await ann.run("SetAvatar", { mediaId: avatarId });
    assert.equal(withAvatar.avatar.id, avatarId);
    await ann.run("DeletePost", { id: photoPost.id });

    const { post } = await bob.run("PostPage", { id: postId });
    assert.equal(post.author.username, people.ann.username);

    // Ranked "for you", a creator's statistics (the author's alone), trending.
    const { homeFeed: forYou } = await bob.run("HomeFeedForYou", { first: 10 });
    assert.ok(forYou.edges.some((edge) => edge.node.id === postId), "ann's post is not in bob's FOR_YOU feed");
    const today = new Date().toISOString().slice(0, 10);
    const { post: withStats } = await ann.run("PostStats", { id: postId, from: today, to: today });
    assert.deepEqual(withStats.stats.byDay.map((day) => day.day), [today]);
    const { creatorStats } = await ann.run("CreatorStats", { from: today, to: today });
    assert.equal(typeof creatorStats.posts, "number");
    const { trendingPosts } = await bob.run("TrendingPosts", { window: "DAY", first: 5 });
    assert.ok(Array.isArray(trendingPosts), "trendingPosts is a list");
    const { userByUsername } = await bob.run("ProfilePage", { username: people.ann.username });
    assert.equal(userByUsername.id, people.ann.id);

    const { notifications } = await ann.run("Notifications", { first: 10 });
    assert.ok(notifications.edges.length >= 1, "ann has notifications");
    await ann.run("MarkNotificationsRead", { ids: null });

    // Search is fed by events: wait for the index to catch up.
    await eventually("ann in search", async () => {
      const { search } = await bob.run("Search", { query: people.ann.username, types: ["USER"], first: 5 });
      return search.edges.some((edge) => edge.node.user?.id === people.ann.id) ? true : undefined;
    });
    await bob.run("HashtagPage", { name: "nova", first: 5 });
    await bob.run("TrendingHashtags", { window: "DAY", first: 5 });

    // Chat.
    const { startDirectConversation } = await ann.run("StartDirectConversation", { userId: people.bob.id });
    const conversationId = startDirectConversation.id;
    const bobChat = bob.subscribe("ChatEvents", { conversationId });
    await streamsOpen("chat", 1);
    const clientMessageId = randomUUID();
    const { sendMessage } = await ann.run("SendMessage", { conversationId, body: "hi bob", clientMessageId });
    const received = await bobChat.next((event) => event.chatEvents.kind === "MESSAGE");
    assert.equal(received.chatEvents.message.clientMessageId, clientMessageId);
    await bob.run("SetTyping", { conversationId, typing: true });
    await bob.run("MarkRead", { conversationId, upTo: sendMessage.cursor });
    const { conversations } = await bob.run("Inbox", { first: 10 });
    assert.ok(conversations.edges.some((edge) => edge.node.id === conversationId));
    const { conversation } = await bob.run("ConversationMessages", { id: conversationId, last: 20 });
    assert.equal(conversation.messages.edges.at(-1).node.body, "hi bob");
    const { createGroup } = await ann.run("CreateGroup", { title: `group ${suffix}`, memberIds: [people.bob.id] });
    const { addMembers } = await ann.run("AddMembers", {
      conversationId: createGroup.id,
      userIds: [people.cyd.id],
    });
    assert.equal(addMembers.members.length, 3);
    await bob.run("LeaveConversation", { conversationId: createGroup.id });

    // Cyd changes the password, forgets it, and resets it from the mail.
    const cyd = open(people.cyd.session.accessToken);
    const { changePassword } = await cyd.run("ChangePassword", {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    assert.equal(changePassword, true);
    await anonymous.run("RequestPasswordReset", { email: people.cyd.email });
    const token = await resetCodeFor(people.cyd.email);
    const { resetPassword } = await anonymous.run("ResetPassword", { token, newPassword: PASSWORD });
    assert.equal(resetPassword, true);

    // Cyd downloads everything Nova holds on them, then deletes the account.
    const { exportMyData } = await cyd.run("ExportMyData");
    const archive = await (await fetch(exportMyData.url)).json();
    assert.equal(archive.identity.account.email, people.cyd.email);
    const { deleteAccount } = await cyd.run("DeleteAccount", { password: PASSWORD });
    assert.equal(deleteAccount, true);

    // Clean up, and sign out.
    await ann.run("DeletePost", { id: firstPost.id });
    await bob.run("UnfollowUser", { userId: people.ann.id });
    await anonymous.run("Logout", { refreshToken: refreshSession.refreshToken });
    return ran;
  } finally {
    for (const events of subscriptions) events.close?.();
    for (const client of clients) await client.close();
  }
}
