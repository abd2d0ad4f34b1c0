//! Mail the stack's SMTP server received, read from its Maildir the way a user
//! reads their inbox.

use crate::{eventually, Stack};

impl Stack {
    /// The Maildir where the stack's SMTP server keeps what it receives.
    pub fn maildir(&self) -> &std::path::Path {
        &self.smtp.maildir
    }

    /// The messages (raw RFC 5322 text) the SMTP server received for `address`,
    /// in the order they arrived.
    pub fn mail_to(&self, address: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.smtp.maildir.join("new")) else {
            return Vec::new();
        };
        let mut messages: Vec<(std::time::SystemTime, String, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let name = entry.file_name().to_string_lossy().into_owned();
                Some((modified, name, text))
            })
            .filter(|(_, _, text)| {
                text.lines()
                    .any(|line| line.eq_ignore_ascii_case(&format!("To: {address}")))
            })
            .collect();
        messages.sort();
        messages.into_iter().map(|(_, _, text)| text).collect()
    }

    /// Wait (up to 10 s) until `address` has received `count` messages; the last.
    pub async fn wait_for_mail(&self, address: &str, count: usize) -> String {
        let what = format!("{count} messages to {address}");
        eventually(10, &what, self, || async {
            self.mail_to(address).len() >= count
        })
        .await;
        self.mail_to(address).swap_remove(count - 1)
    }
}

/// The reset code of a password reset mail (the line `Or enter this code: …`).
pub fn reset_token_in(mail: &str) -> Option<String> {
    mail.lines()
        .find_map(|line| line.trim().strip_prefix("Or enter this code: "))
        .map(|token| token.trim().to_string())
}
